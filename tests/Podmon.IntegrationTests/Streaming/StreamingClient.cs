using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Podmon.IntegrationTests.Streaming;

/// <summary>
/// Runs the real clients of tests/streaming/ (Debian's python3-websockets and python3-kubernetes,
/// under /usr/bin/python3: the Debian packages are not on a pyenv python) and parses their JSON.
/// </summary>
static class StreamingClient
{
    public const string Python = "/usr/bin/python3";

    static string Scripts => Repo.Path("tests", "streaming");

    /// <summary>ws_client.py with a plan (see the script); the JSON it prints.</summary>
    public static JsonElement WebSocket(string url, string[] protocols, params JsonObject[] actions)
    {
        var plan = new JsonObject
        {
            ["protocols"] = new JsonArray([.. protocols.Select(p => (JsonNode)JsonValue.Create(p)!)]),
            ["actions"] = new JsonArray([.. actions.Cast<JsonNode>()]),
            ["base64"] = protocols.Any(p => p.Contains("base64")),
        };
        return Run("ws_client.py", url, plan.ToJsonString());
    }

    /// <summary>Starts ws_client.py and returns once its WebSocket is open; <see cref="Finish"/> gets the result.</summary>
    public static Process StartWebSocket(string url, string[] protocols, params JsonObject[] actions)
    {
        var plan = new JsonObject
        {
            ["protocols"] = new JsonArray([.. protocols.Select(p => (JsonNode)JsonValue.Create(p)!)]),
            ["actions"] = new JsonArray([.. actions.Cast<JsonNode>()]),
            ["announce"] = true,
        };
        Process p = Start("ws_client.py", url, plan.ToJsonString());
        Task<string?> line = p.StandardOutput.ReadLineAsync();
        if (!line.Wait(30_000) || line.Result != "open")
        {
            p.Kill(true);
            throw new Xunit.Sdk.XunitException($"the client did not open its WebSocket: {line.Result} {p.StandardError.ReadToEnd()}");
        }
        return p;
    }

    public static JsonElement Finish(Process p, int timeoutMs = 60_000)
    {
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(true);
            throw new TimeoutException($"client did not finish in {timeoutMs} ms: {e.Result}");
        }
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"client failed ({p.ExitCode}): {o.Result}{e.Result}");
        return JsonDocument.Parse(o.Result).RootElement;
    }

    public static JsonObject Send(int channel, string text) => new() { ["send"] = new JsonArray(channel, text) };
    public static JsonObject Expect(int channel, string text) => new() { ["expect"] = new JsonArray(channel, text) };
    public static JsonObject CloseStream(int channel) => new() { ["close_stream"] = channel };
    public static JsonObject Ping(string payload) => new() { ["ping"] = payload };
    public static JsonObject Close() => new() { ["close"] = true };

    public static JsonElement KubernetesExec(string url, string? stdin = null) =>
        Run("k8s_exec.py", stdin is null ? [url] : [url, stdin]);

    public static JsonElement Http(string url, string method, params string[] headers) => Run("http_probe.py", [url, method, .. headers]);

    static Process Start(string script, params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(Scripts, script));
        foreach (string a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    static JsonElement Run(string script, params string[] args) => Finish(Start(script, args));

    /// <summary>What arrived on a channel (latin-1 text), "" if nothing.</summary>
    public static string Channel(this JsonElement result, int channel) =>
        result.GetProperty("channels").TryGetProperty(channel.ToString(), out JsonElement v) ? v.GetString()! : "";
}
