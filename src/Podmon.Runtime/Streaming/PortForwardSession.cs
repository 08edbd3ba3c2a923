using System.Globalization;
using System.Text;
using Podmon.Diagnostics;

namespace Podmon.Streaming;

/// <summary>
/// The kubelet's WebSocket port-forward: for the i-th port of the query (?port=P, repeatable,
/// comma lists) data flows on channel 2i and errors on 2i+1, each first carrying the port (2
/// bytes, little-endian). Each port is one TCP connection to localhost:P made from a socket
/// created inside the request's network namespace. A port whose connection fails gets the reason
/// as text on its error channel; the session closes once every port's connection has ended.
/// </summary>
sealed class PortForwardSession : IStreamSession
{
    const int MaxPorts = 64;

    readonly StreamingServer _server;
    readonly StreamRequest _req;
    readonly PortTarget[] _ports;
    StreamConnection? _c;
    int _open;

    public PortForwardSession(StreamingServer server, StreamRequest req, ushort[] ports)
    {
        _server = server;
        _req = req;
        _ports = new PortTarget[ports.Length];
        for (int i = 0; i < ports.Length; i++) _ports[i] = new PortTarget(this, i, ports[i]);
    }

    /// <summary>The ports of the query string; null and a reason when there is none or one is not a port.</summary>
    public static ushort[]? ParsePorts(string query, out string? error)
    {
        error = null;
        var ports = new List<ushort>();
        foreach (string pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            if (eq < 0 || !pair.AsSpan(0, eq).Equals("port", StringComparison.OrdinalIgnoreCase)) continue;
            foreach (string value in pair[(eq + 1)..].Replace("%2C", ",", StringComparison.OrdinalIgnoreCase).Split(','))
            {
                if (!ushort.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ushort port) || port == 0)
                {
                    error = $"invalid port '{value}'";
                    return null;
                }
                ports.Add(port);
            }
        }
        if (ports.Count == 0) error = "the query names no port (?port=P)";
        else if (ports.Count > MaxPorts) error = $"more than {MaxPorts} ports";
        return error is null ? [.. ports] : null;
    }

    internal StreamConnection Connection => _c!;
    internal string NetNsPath => _req.NetNsPath;
    internal StreamingServer Server => _server;

    public void Start(StreamConnection connection)
    {
        _c = connection;
        Span<byte> prefix = stackalloc byte[2];
        foreach (PortTarget p in _ports)
        {
            prefix[0] = (byte)p.Port;
            prefix[1] = (byte)(p.Port >> 8);
            connection.Send(p.Index * 2, prefix);
            connection.Send(p.Index * 2 + 1, prefix);
        }
        _open = _ports.Length;
        foreach (PortTarget p in _ports) p.Connect();
    }

    public bool Streams(int channel) => true;

    public bool OnData(int channel, ReadOnlySpan<byte> data)
    {
        int i = channel / 2;
        if (channel % 2 != 0 || i >= _ports.Length) return true; // error channels are the server's
        return _ports[i].Write(data);
    }

    public void OnOutputHeld(bool hold)
    {
        foreach (PortTarget p in _ports) p.SetPaused(hold);
    }

    public void OnClientGone()
    {
        foreach (PortTarget p in _ports) p.Dispose();
    }

    /// <summary>A port's connection failed: the reason on its error channel.</summary>
    internal void PortFailed(PortTarget p, string reason)
    {
        string message = $"error forwarding port {p.Port} to the network namespace {_req.NetNsPath}: {reason}";
        Log.Debug(message);
        _c!.Send(p.Index * 2 + 1, Encoding.UTF8.GetBytes(message));
    }

    internal void PortEnded()
    {
        if (--_open == 0 && !_c!.IsGone) _c.Close(WebSocketFrame.CloseNormal, "");
    }
}
