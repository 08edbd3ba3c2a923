using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Server;

/// <summary>The listening socket on the loop: accepts every pending client and hands it on.</summary>
public sealed unsafe class Listener : IEventHandler, IDisposable
{
    readonly EventLoop _loop;
    readonly OwnedFd _fd;
    readonly IConnectionAcceptor _acceptor;
    readonly Registration _reg;

    public Listener(EventLoop loop, string path, IConnectionAcceptor acceptor)
    {
        _loop = loop;
        _acceptor = acceptor;
        Path = path;
        _fd = UnixSocket.Listen(path, Libc.SOCK_STREAM, 0b110_000_000 /* 0600 */);
        _reg = loop.Add(_fd.Value, Libc.EPOLLIN, this);
    }

    public string Path { get; }

    public void OnEvents(uint events)
    {
        while (true)
        {
            int client = Libc.accept4(_fd.Value, null, null, Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK);
            if (client < 0)
            {
                int e = Errno.Last;
                if (e == Errno.EINTR) continue;
                if (e != Errno.EAGAIN) Log.Warn($"accept4 on {Path}: {Errno.Describe(e)}");
                return;
            }
            _acceptor.Accept(new OwnedFd(client));
        }
    }

    public void Dispose()
    {
        _loop.Remove(_reg);
        _fd.Dispose();
    }
}
