using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// The attach endpoints of one container (conmon's attach protocol over SOCK_SEQPACKET): every
/// chunk of output goes to every client as packets of one stream byte (2 stdout, 3 stderr) and at
/// most 8191 data bytes; when the container is done each client gets the one-byte packet 0.
/// Client packets go to the container's stdin. A backlogged client holds the container's output
/// back through the <see cref="OutputGate"/>.
/// </summary>
public sealed class AttachHub : IDisposable
{
    /// <summary>conmon-rs's packet size (stream byte included).</summary>
    public const int PacketSize = 8192;
    public const byte StdoutByte = 2, StderrByte = 3, DoneByte = 0;

    readonly EventLoop _loop;
    readonly List<AttachListener> _listeners = [];
    readonly List<AttachClient> _clients = [];
    List<IAttachStream>? _streams;
    StdinWriter? _stdin;
    Action? _whenClientsGone;
    bool _done;

    public AttachHub(EventLoop loop, OutputGate gate)
    {
        _loop = loop;
        Gate = gate;
    }

    public OutputGate Gate { get; }

    /// <summary>Where client input goes (a pty arrives only after create, when clients may already listen).</summary>
    internal void SetStdin(StdinWriter? stdin)
    {
        _stdin = stdin;
        if (stdin is not null) stdin.Drained = ResumeInput;
    }

    public int ClientCount => _clients.Count;

    internal int ListenerCount => _listeners.Count;

    /// <summary>conmon-rs ends a session with the done packet; the C conmon just closes (podman fails on a 0 stream byte).</summary>
    public bool SendDonePacket { get; set; } = true;

    /// <summary>
    /// Listens at <paramref name="path"/> (mode 0700). A path that already exists is taken as already
    /// served, like conmon-rs. One that is gone while we still listen there was removed by the
    /// client (CRI-O's conmon-rs client removes it after every attach): that listener is closed
    /// before the new one is made, so repeated attaches hold one socket, not one each.
    /// </summary>
    public void Listen(string path, bool stopAfterStdinEof)
    {
        if (File.Exists(path) || Directory.Exists(path))
        {
            Log.Debug($"attach socket {path} exists; assuming it is already served");
            return;
        }
        int stale = _listeners.FindIndex(l => l.Path == path);
        if (stale >= 0)
        {
            _listeners[stale].Dispose();
            _listeners.RemoveAt(stale);
        }
        _listeners.Add(new AttachListener(_loop, this, path, stopAfterStdinEof));
    }

    internal void Accepted(AttachClient client) => _clients.Add(client);

    internal void Removed(AttachClient client)
    {
        _clients.Remove(client);
        if (_done && _clients.Count == 0 && _whenClientsGone is { } gone)
        {
            _whenClientsGone = null;
            gone();
        }
    }

    /// <summary>
    /// After <see cref="Done"/>: <paramref name="action"/> runs once every client has taken its last
    /// output and is closed (at once if none is left).
    /// </summary>
    public void WhenClientsGone(Action action)
    {
        if (!_done) throw new InvalidOperationException("attach clients are waited for only once the container is done");
        if (_clients.Count == 0) action();
        else _whenClientsGone += action;
    }

    public void Broadcast(Pipe pipe, ReadOnlySpan<byte> data)
    {
        if (_streams is not null)
            for (int i = _streams.Count - 1; i >= 0; i--) _streams[i].OnOutput(pipe, data);
        if (_clients.Count == 0) return;
        byte stream = pipe == Pipe.Stdout ? StdoutByte : StderrByte;
        while (!data.IsEmpty)
        {
            ReadOnlySpan<byte> piece = data[..Math.Min(data.Length, PacketSize - 1)];
            data = data[piece.Length..];
            for (int i = _clients.Count - 1; i >= 0; i--) _clients[i].Send(stream, piece);
        }
    }

    internal bool StdinBusy => _stdin is { Pending: true };

    internal void Input(ReadOnlySpan<byte> data)
    {
        _stdin?.Write(data);
        if (StdinBusy)
            foreach (AttachClient c in _clients) c.PauseInput();
    }

    internal void InputEnded(AttachClient client)
    {
        if (client.StopAfterStdinEof) _stdin?.CloseWhenDrained();
    }

    void ResumeInput()
    {
        foreach (AttachClient c in _clients) c.ResumeInput();
        if (_streams is not null) foreach (IAttachStream s in _streams.ToArray()) s.OnStdinDrained();
    }

    // ---- other kinds of attach endpoint (a WebSocket attach session) ----

    public void AddStream(IAttachStream stream) => (_streams ??= []).Add(stream);

    public void RemoveStream(IAttachStream stream) => _streams?.Remove(stream);

    /// <summary>Input from a stream endpoint; false when some of it waits (the stream pauses until <see cref="IAttachStream.OnStdinDrained"/>).</summary>
    public bool StreamInput(ReadOnlySpan<byte> data)
    {
        Input(data);
        return !StdinBusy;
    }

    /// <summary>
    /// The container is done: the done packet to everyone, then close and remove the sockets
    /// (a client with queued output is closed once it has taken it).
    /// </summary>
    public void Done()
    {
        _done = true;
        if (_streams is not null) foreach (IAttachStream s in _streams.ToArray()) s.OnContainerDone();
        foreach (AttachClient c in _clients.ToArray()) c.SendDoneAndClose(SendDonePacket);
        foreach (AttachListener l in _listeners) l.Dispose();
        _listeners.Clear();
    }

    /// <summary>Closes the sockets; clients still taking their last output (after <see cref="Done"/>) finish first.</summary>
    public void Dispose()
    {
        foreach (AttachClient c in _clients.ToArray())
            if (!c.Finishing) c.Dispose();
        foreach (AttachListener l in _listeners) l.Dispose();
        _listeners.Clear();
    }
}

/// <summary>
/// An attach endpoint that is not a SEQPACKET client (a WebSocket attach session): it gets each
/// chunk of output whole, holds the output back through the hub's <see cref="OutputGate"/> while
/// it is backlogged (as an attach client does), and is told when stdin is free again and when
/// the container is done.
/// </summary>
public interface IAttachStream : IOutputSink
{
    void OnStdinDrained();
    void OnContainerDone();
}

/// <summary>One attach socket path (mode 0700): its clients join the hub.</summary>
sealed class AttachListener : IDisposable
{
    readonly Acceptor _acceptor;
    bool _disposed;

    public string Path { get; }

    public AttachListener(EventLoop loop, AttachHub hub, string path, bool stopAfterStdinEof)
    {
        Path = path;
        _acceptor = new Acceptor(loop, UnixSocket.Listen(path, Libc.SOCK_SEQPACKET, 0b111_000_000), path,
            fd => hub.Accepted(new AttachClient(loop, hub, fd, stopAfterStdinEof)));
    }

    public void Dispose()
    {
        if (_disposed) return; // once: a later listener may have bound the same path
        _disposed = true;
        _acceptor.Dispose();
        Libc.unlink(Path);
    }
}
