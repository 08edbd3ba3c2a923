namespace Podmon.Loop;

/// <summary>Gets the epoll events of one registered fd. Runs on the loop thread; keep it short.</summary>
public interface IEventHandler
{
    void OnEvents(uint events);
}

/// <summary>Gets a due timer.</summary>
public interface ITimerHandler
{
    void OnTimer(LoopTimer timer);
}
