#!/usr/bin/python3
"""A WebSocket client of podmon's streaming server, using Debian's python3-websockets (not our framing).

usage: ws_client.py URL PLAN_JSON
PLAN_JSON: {"protocols": ["v5.channel.k8s.io"], "actions": [...]} with actions in order:
  {"send": [CHANNEL, "text"]}       a binary message [channel][utf-8 text]
  {"expect": [CHANNEL, "text"]}     wait until what arrived on CHANNEL contains text
  {"close_stream": CHANNEL}         v5: the message [255, CHANNEL]
  {"ping": "payload"}               a ping; waits for its pong
  {"close": true}                   a normal close from the client
"announce": true in the plan prints the line "open" as soon as the WebSocket is open.
"base64": true speaks the base64 flavour: text messages of the channel digit and the base64 payload.
Then reads until the server closes. Prints one JSON line: {"protocol", "channels": {ch: text},
"messages": [[ch, hex]...], "close_code", "close_reason"}; an HTTP refusal prints {"http_status": N}.
"""
import asyncio, base64, json, sys
import websockets


async def main(url, plan):
    url = url.replace("http://", "ws://", 1)  # the server hands out http:// URLs, as the kubelet expects
    channels, messages = {}, []
    result = {"channels": channels, "messages": messages}

    b64 = plan.get("base64")

    def frame(ch, payload):
        return f"{ch}{base64.b64encode(payload).decode()}" if b64 else bytes([ch]) + payload

    def take(msg):
        if b64 and isinstance(msg, str) and msg:
            msg = bytes([int(msg[0])]) + base64.b64decode(msg[1:])
        if isinstance(msg, str):
            msg = msg.encode()
        if not msg:
            return
        ch = msg[0]
        messages.append([ch, msg[1:].hex()])
        channels[str(ch)] = channels.get(str(ch), "") + msg[1:].decode("latin-1")

    try:
        ws = await websockets.connect(url, subprotocols=plan.get("protocols") or None,
                                      max_size=None, open_timeout=10, close_timeout=10)
    except websockets.exceptions.InvalidStatusCode as e:
        result["http_status"] = e.status_code
        return result
    result["protocol"] = ws.subprotocol
    if plan.get("announce"):
        print("open", flush=True)
    try:
        for action in plan.get("actions", []):
            if "send" in action:
                ch, text = action["send"]
                await ws.send(frame(ch, text.encode()))
            elif "expect" in action:
                ch, text = action["expect"]
                while text not in channels.get(str(ch), ""):
                    take(await ws.recv())
            elif "close_stream" in action:
                await ws.send(frame(255, bytes([action["close_stream"]])))
            elif "ping" in action:
                pong = await ws.ping(action["ping"].encode())
                await asyncio.wait_for(pong, 10)
                result["pong"] = True
            elif action.get("close"):
                await ws.close()
        async for msg in ws:
            take(msg)
    except websockets.exceptions.ConnectionClosed:
        pass
    result["close_code"] = ws.close_code
    result["close_reason"] = ws.close_reason
    return result


if __name__ == "__main__":
    out = asyncio.run(asyncio.wait_for(main(sys.argv[1], json.loads(sys.argv[2])), 60))
    print(json.dumps(out))
