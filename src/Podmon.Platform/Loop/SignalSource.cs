using Podmon.Sys;

namespace Podmon.Loop;

public interface ISignalHandler
{
    void OnSignal(int signo);
}

/// <summary>
/// Delivers the signals blocked by native/early.c (SIGCHLD, SIGTERM, SIGINT, SIGHUP) through a
/// signalfd on the loop.
/// </summary>
public sealed unsafe class SignalSource : IEventHandler, IDisposable
{
    readonly EventLoop _loop;
    readonly OwnedFd _fd;
    readonly ISignalHandler _handler;
    readonly Registration _reg;

    public SignalSource(EventLoop loop, ISignalHandler handler)
    {
        // Blocks them for this thread too, for hosts where the constructor did not run (tests).
        Errno.Check(Native.SigprocmaskBlocked(0 /* SIG_BLOCK */), "sigprocmask");
        _loop = loop;
        _handler = handler;
        _fd = OwnedFd.Check(Native.SignalfdBlocked(-1, Libc.SFD_CLOEXEC | Libc.SFD_NONBLOCK), "signalfd");
        _reg = loop.Add(_fd.Value, Libc.EPOLLIN, this);
    }

    public void OnEvents(uint events)
    {
        Libc.SignalfdSigInfo info;
        while (Libc.read(_fd.Value, (byte*)&info, (nuint)sizeof(Libc.SignalfdSigInfo)) == sizeof(Libc.SignalfdSigInfo))
            _handler.OnSignal((int)info.Signo);
    }

    public void Dispose()
    {
        _loop.Remove(_reg);
        _fd.Dispose();
    }
}
