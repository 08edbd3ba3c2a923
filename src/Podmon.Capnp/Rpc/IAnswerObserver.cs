namespace Podmon.Capnp.Rpc;

/// <summary>
/// Told once how a call ended: answered with results (<c>failure</c> null), with an exception (its
/// reason), or never, because its connection went first. For instrumentation such as a trace
/// span per call; it runs on the thread that answered and must not answer the call itself.
/// </summary>
public interface IAnswerObserver
{
    void OnAnswered(string? failure);
}
