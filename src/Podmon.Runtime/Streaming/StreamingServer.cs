using System.Globalization;
using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Streaming;

/// <summary>
/// The Kubernetes streaming server of serveExec/serveAttach/servePortForward (conmon-rs's
/// contract): started on the first call, it listens on 127.0.0.1 at a port the kernel chose for
/// the server's lifetime, and hands out URLs with a random single-use token (128 bits, one hour,
/// at most <see cref="MaxTokens"/> live: the oldest is evicted). A client upgrades to a WebSocket
/// with the token; what the token stands for then runs on the loop. Nothing exists (no socket, no
/// buffer) before the first call, so an idle server costs what it did.
/// </summary>
public sealed class StreamingServer : IDisposable
{
    public const int MaxTokens = 25;
    const long TokenLifetimeMs = 60 * 60 * 1000;

    readonly ContainerEngine _engine;
    readonly StreamRequest?[] _tokens = new StreamRequest?[MaxTokens];
    readonly List<StreamConnection> _connections = [];
    Acceptor? _acceptor;
    OwnedFd? _ownNetNs;
    int _port;

    public StreamingServer(EventLoop loop, ContainerEngine engine)
    {
        Loop = loop;
        _engine = engine;
    }

    internal ContainerEngine Engine => _engine;
    internal EventLoop Loop { get; }
    public int ConnectionCount => _connections.Count;

    /// <summary>
    /// Keeps <paramref name="request"/> under a new token and returns its URL. Exec and attach
    /// check that the container exists (<see cref="ContainerException"/> if not), exec that there
    /// is a command, port-forward that there is a namespace path; the rest waits for the client.
    /// </summary>
    public string Serve(StreamRequest request)
    {
        if (request.Kind != StreamKind.PortForward && _engine.Find(request.ContainerId) is null)
            throw new ContainerException($"container {request.ContainerId} not found");
        if (request.Kind == StreamKind.Exec && request.Command.Count == 0)
            throw new ContainerException("exec: command is empty");
        if (request.Kind == StreamKind.PortForward && request.NetNsPath.Length == 0)
            throw new ContainerException("port forward: netNsPath is empty");
        EnsureListening();
        Span<byte> random = stackalloc byte[16];
        Libc.GetRandom(random);
        request.Token = Convert.ToHexStringLower(random);
        long now = Libc.MonotonicMs();
        request.ExpiresMs = now + TokenLifetimeMs;
        int slot = 0;
        for (int i = 0; i < _tokens.Length; i++)
        {
            StreamRequest? t = _tokens[i];
            if (t is null || t.ExpiresMs <= now) { slot = i; break; }
            if (t.ExpiresMs < _tokens[slot]!.ExpiresMs) slot = i; // all live: evict the oldest
        }
        _tokens[slot] = request;
        return $"http://127.0.0.1:{_port.ToString(CultureInfo.InvariantCulture)}{request.PathPrefix}{request.Token}";
    }

    void EnsureListening()
    {
        if (_acceptor is not null) return;
        OwnedFd? listener = null;
        try
        {
            _ownNetNs = OwnedFd.Check(Libc.open("/proc/thread-self/ns/net", Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", "/proc/thread-self/ns/net");
            listener = Libc.ListenLoopback(out _port);
        }
        catch (SyscallException e)
        {
            _ownNetNs?.Dispose();
            _ownNetNs = null;
            listener?.Dispose();
            throw new ContainerException($"start the streaming server: {e.Message}", e);
        }
        // At most 16 clients per wake-up, so connections already open get their turn.
        _acceptor = new Acceptor(Loop, listener, $"the streaming server (127.0.0.1:{_port.ToString(CultureInfo.InvariantCulture)})", Accepted, perEvent: 16);
        Log.Info($"streaming server listening on 127.0.0.1:{_port}");
    }

    unsafe void Accepted(OwnedFd fd)
    {
        int one = 1;
        Libc.setsockopt(fd.Value, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, &one, sizeof(int));
        _connections.Add(new StreamConnection(this, Loop, fd));
    }

    internal void Closed(StreamConnection c) => _connections.Remove(c);

    /// <summary>Answers a request head: an error, or the upgrade and the session its token stands for.</summary>
    internal void Route(StreamConnection c, HttpRequestHead head)
    {
        StreamKind kind;
        if (head.Path.StartsWith("/exec/", StringComparison.Ordinal)) kind = StreamKind.Exec;
        else if (head.Path.StartsWith("/attach/", StringComparison.Ordinal)) kind = StreamKind.Attach;
        else if (head.Path.StartsWith("/port-forward/", StringComparison.Ordinal)) kind = StreamKind.PortForward;
        else
        {
            c.RespondError(404, "Not Found", $"no such path: {head.Path}");
            return;
        }
        // The token first, as the kubelet looks it up before anything else of the request; it is
        // used up only by a request that is served, so a bad request leaves a good token usable.
        int slot = Find(kind, head.Path[(head.Path.IndexOf('/', 1) + 1)..]);
        if (slot < 0)
        {
            c.RespondError(404, "Not Found", "unknown, used or expired token");
            return;
        }
        if (head.Method != "GET")
        {
            c.RespondError(405, "Method Not Allowed", $"{head.Method} is not served: connect with GET and a WebSocket upgrade", "Allow: GET");
            return;
        }
        if (head.Upgrade is { } up && up.StartsWith("SPDY/", StringComparison.OrdinalIgnoreCase))
        {
            c.RespondError(400, "Bad Request", $"{up} is not supported: podmon streams over WebSocket (RFC 6455) only");
            return;
        }
        if (!HttpRequestHead.HasToken(head.Upgrade, "websocket") || !HttpRequestHead.HasToken(head.Connection, "upgrade"))
        {
            c.RespondError(400, "Bad Request", "expected a WebSocket upgrade (Upgrade: websocket, Connection: Upgrade)");
            return;
        }
        if (head.Version != "13")
        {
            c.RespondError(426, "Upgrade Required", $"unsupported Sec-WebSocket-Version '{head.Version}'", "Sec-WebSocket-Version: 13");
            return;
        }
        Span<byte> key = stackalloc byte[18];
        if (head.Key is null || !Convert.TryFromBase64String(head.Key, key, out int keyLength) || keyLength != 16)
        {
            c.RespondError(400, "Bad Request", "missing or malformed Sec-WebSocket-Key");
            return;
        }
        ushort[]? ports = null;
        if (kind == StreamKind.PortForward && (ports = PortForwardSession.ParsePorts(head.Query, out string? portError)) is null)
        {
            c.RespondError(400, "Bad Request", portError!);
            return;
        }
        if (!Negotiate(kind, head.Protocols, out string? protocol, out int version, out bool base64))
        {
            c.RespondError(400, "Bad Request", $"none of the subprotocols '{head.Protocols}' is supported (offer {(kind == StreamKind.PortForward ? "v4.channel.k8s.io" : "v5.channel.k8s.io")})");
            return;
        }
        StreamRequest request = _tokens[slot]!;
        _tokens[slot] = null; // single use
        IStreamSession session = kind switch
        {
            StreamKind.Exec => new ExecSession(this, request),
            StreamKind.Attach => new AttachSession(this, request),
            _ => new PortForwardSession(this, request, ports!),
        };
        c.Upgrade(head.Key, protocol, version, base64, session);
    }

    /// <summary>The slot of a live token of this kind, or -1 (an expired one is dropped on the way).</summary>
    int Find(StreamKind kind, string token)
    {
        long now = Libc.MonotonicMs();
        for (int i = 0; i < _tokens.Length; i++)
        {
            StreamRequest? t = _tokens[i];
            if (t is null || t.Kind != kind || !SameToken(t.Token, token)) continue;
            if (t.ExpiresMs > now) return i;
            _tokens[i] = null;
            return -1;
        }
        return -1;
    }

    /// <summary>Compares in time that does not depend on where the strings differ.</summary>
    static bool SameToken(string a, string b)
    {
        if (a.Length != b.Length) return false;
        int diff = 0;
        for (int i = 0; i < a.Length; i++) diff |= a[i] ^ b[i];
        return diff == 0;
    }

    /// <summary>
    /// The first subprotocol the client offers that the kubelet's server would take for this kind
    /// (none offered: channel.k8s.io, version 1).
    /// </summary>
    static bool Negotiate(StreamKind kind, string? offered, out string? protocol, out int version, out bool base64)
    {
        protocol = null;
        version = kind == StreamKind.PortForward ? 4 : 1;
        base64 = false;
        if (string.IsNullOrWhiteSpace(offered)) return true;
        foreach (string part in offered.Split(','))
        {
            string p = part.Trim();
            base64 = p.Contains("base64", StringComparison.Ordinal);
            version = p switch
            {
                "v5.channel.k8s.io" when kind != StreamKind.PortForward => 5,
                "v4.channel.k8s.io" or "v4.base64.channel.k8s.io" => 4,
                "channel.k8s.io" or "base64.channel.k8s.io" when kind != StreamKind.PortForward => 1,
                _ => 0,
            };
            if (version == 0) continue;
            protocol = p;
            return true;
        }
        base64 = false;
        return false;
    }

    /// <summary>
    /// A non-blocking TCP socket made inside the network namespace at <paramref name="netNsPath"/>.
    /// The loop thread enters the namespace only for socket(2) and is back in its own before
    /// anything else runs; if it cannot get back, the process cannot go on safely and stops.
    /// </summary>
    internal OwnedFd SocketInNetNs(string netNsPath)
    {
        using OwnedFd target = OwnedFd.Check(Libc.open(netNsPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open network namespace", netNsPath);
        Errno.Check(Libc.setns(target.Value, Libc.CLONE_NEWNET), "setns", netNsPath);
        int fd = Libc.socket(Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        int e = Errno.Last;
        if (Libc.setns(_ownNetNs!.Value, Libc.CLONE_NEWNET) < 0)
        {
            string reason = Errno.Describe(Errno.Last);
            Log.Error($"cannot return to podmon's own network namespace after {netNsPath}: {reason}");
            Environment.FailFast($"setns back to the own network namespace: {reason}");
        }
        if (fd < 0) throw new SyscallException("socket(AF_INET)", e, netNsPath);
        return new OwnedFd(fd);
    }

    public void Dispose()
    {
        foreach (StreamConnection c in _connections.ToArray()) c.Dispose();
        _acceptor?.Dispose();
        _acceptor = null;
        _ownNetNs?.Dispose();
    }
}
