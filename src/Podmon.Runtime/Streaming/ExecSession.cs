using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Streaming;

/// <summary>
/// An exec over a WebSocket (the kubelet's remotecommand protocol): the process starts when the
/// client connects; channel 0 is its stdin, 4 resizes its terminal, v5's [255, 0] closes its
/// stdin (only the stream, not the session); its stdout and stderr go out on 1 and 2; at the end
/// the status on 3 and a Close frame. The client leaving kills the process.
/// </summary>
sealed class ExecSession : IStreamSession
{
    public const int StdinChannel = 0, StdoutChannel = 1, StderrChannel = 2, ResizeChannel = 4, CloseChannel = 255;

    readonly StreamRequest _req;
    readonly ExecProcess _process;
    StreamConnection? _c;
    byte[]? _early; // input sent before the terminal exists
    int _earlyLength;
    bool _stdinClosed, _done;

    public ExecSession(StreamingServer server, StreamRequest req)
    {
        _req = req;
        _process = new ExecProcess(server.Engine, req, this);
    }

    public void Start(StreamConnection connection)
    {
        _c = connection;
        try { _process.Start(); }
        catch (Exception e)
        {
            Exited(0, e is Containers.ContainerException ? e.Message : $"exec in container {_req.ContainerId}: {ErrorText.Describe(e)}");
        }
    }

    public bool Streams(int channel) => channel == StdinChannel;

    public bool OnData(int channel, ReadOnlySpan<byte> data)
    {
        switch (channel)
        {
            case StdinChannel when _req.Stdin && !_stdinClosed:
                if (_process.StdinReady && _earlyLength == 0) return _process.WriteStdin(data);
                if (_earlyLength + data.Length > (_early?.Length ?? 0)) Array.Resize(ref _early, _earlyLength + data.Length);
                data.CopyTo(_early.AsSpan(_earlyLength));
                _earlyLength += data.Length;
                return false; // resumed by StdinDrained once the terminal is there
            case ResizeChannel:
                if (ResizeMessage.TryParse(data, out ushort width, out ushort height))
                {
                    try { _process.Resize(width, height); }
                    catch (SyscallException e) { Log.Debug($"exec resize: {e.Message}"); }
                }
                return true;
            case CloseChannel when _c!.Version >= 5:
                if (data.Length >= 1 && data[0] == StdinChannel)
                {
                    _stdinClosed = true;
                    if (_earlyLength == 0) _process.CloseStdin();
                }
                return true;
            default:
                return true;
        }
    }

    /// <summary>Stdin took everything pending (or the terminal arrived): input may flow again.</summary>
    public void StdinDrained()
    {
        if (_earlyLength > 0 && _process.StdinReady)
        {
            int n = _earlyLength;
            _earlyLength = 0;
            bool free = _process.WriteStdin(_early.AsSpan(0, n));
            _early = null;
            if (_stdinClosed) _process.CloseStdin();
            if (!free) return;
        }
        _c?.ResumeInput();
    }

    public void Output(Pipe pipe, ReadOnlySpan<byte> data)
    {
        if (pipe == Pipe.Stdout || _req.Tty)
        {
            if (_req.Stdout || _req.Tty) _c?.Send(StdoutChannel, data);
        }
        else if (_req.Stderr) _c?.Send(StderrChannel, data);
    }

    public void OnOutputHeld(bool hold) => _process.SetOutputHeld(hold);

    public void OnClientGone()
    {
        if (_done) return;
        Log.Debug($"exec in container {_req.ContainerId}: the client left; killing the process");
        _process.Kill();
    }

    /// <summary>The process exited (its output drained), or never ran (<paramref name="error"/>).</summary>
    public void Exited(int exitCode, string? error)
    {
        if (_done) return;
        _done = true;
        if (_c is null || _c.IsGone) return;
        if (error is not null) StatusMessage.SendError(_c, error);
        else StatusMessage.SendExit(_c, exitCode);
        _c.Close(WebSocketFrame.CloseNormal, "");
    }
}
