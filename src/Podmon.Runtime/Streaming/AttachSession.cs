using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Streaming;

/// <summary>
/// An attach over a WebSocket: one more endpoint of the container's <see cref="AttachHub"/> (the
/// same output, already logged once, as the attach socket's clients get; input goes to the same
/// stdin). Resize on 4 for a terminal container. Ends when the container exits (Success on 3,
/// then Close) or the client leaves (the container is not touched).
/// </summary>
sealed class AttachSession(StreamingServer server, StreamRequest req) : IStreamSession, IAttachStream
{
    StreamConnection? _c;
    Container? _container;
    bool _held, _stdinClosed;

    public void Start(StreamConnection connection)
    {
        _c = connection;
        _container = server.Engine.Find(req.ContainerId);
        if (_container is not { State: ContainerState.Running })
        {
            StatusMessage.SendError(connection, _container is null ? $"container {req.ContainerId} not found" : $"container {req.ContainerId} is not running");
            connection.Close(WebSocketFrame.CloseNormal, "");
            return;
        }
        _container.Io.Attach.AddStream(this);
    }

    public bool Streams(int channel) => channel == ExecSession.StdinChannel;

    public bool OnData(int channel, ReadOnlySpan<byte> data)
    {
        if (_container is null) return true;
        switch (channel)
        {
            case ExecSession.StdinChannel when req.Stdin && !_stdinClosed:
                return _container.Io.Attach.StreamInput(data);
            case ExecSession.ResizeChannel when _container.HasTerminal:
                if (ResizeMessage.TryParse(data, out ushort width, out ushort height))
                {
                    try { _container.Resize(width, height); }
                    catch (ContainerException e) { Log.Debug($"attach resize: {e.Message}"); }
                }
                return true;
            case ExecSession.CloseChannel when _c!.Version >= 5:
                // The client's stdin ended: stop forwarding it. The container's stdin is shared
                // with other attach clients, so it stays open.
                if (data.Length >= 1 && data[0] == ExecSession.StdinChannel) _stdinClosed = true;
                return true;
            default:
                return true;
        }
    }

    public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data)
    {
        if (pipe == Pipe.Stdout || _container!.HasTerminal)
        {
            if (req.Stdout || _container!.HasTerminal) _c!.Send(ExecSession.StdoutChannel, data);
        }
        else if (req.Stderr) _c!.Send(ExecSession.StderrChannel, data);
    }

    /// <summary>The connection fell behind (true) or caught up (false): hold the container's output meanwhile.</summary>
    public void OnOutputHeld(bool hold)
    {
        if (hold == _held || _container is null) return;
        _held = hold;
        if (hold) _container.Io.Gate.Hold();
        else _container.Io.Gate.Release();
    }

    public void OnStdinDrained() => _c?.ResumeInput();

    public void OnContainerDone()
    {
        OnOutputHeld(false);
        _container!.Io.Attach.RemoveStream(this);
        StatusMessage.SendExit(_c!, 0);
        _c!.Close(WebSocketFrame.CloseNormal, "");
    }

    public void OnClientGone()
    {
        OnOutputHeld(false);
        _container?.Io.Attach.RemoveStream(this);
    }
}
