using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Schema;
using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>startFdSocket, and createContainer's additionalFds/leakFds: slots of fds sent over that socket.</summary>
public sealed partial class ConmonService
{
    void StartFdSocket(RpcCall call)
    {
        if (fdSocket is null)
        {
            call.Fail("startFdSocket: this server has no fd socket", ExceptionType.Unimplemented);
            return;
        }
        string path;
        try { path = fdSocket.Start(); }
        catch (Exception e) when (e is SyscallException or IOException)
        {
            call.Fail($"start the fd socket {fdSocket.Path}: {ErrorText.Describe(e)}");
            return;
        }
        new StartFdSocketResultsBuilder(call.InitResults(StartFdSocketResultsBuilder.DataWords, StartFdSocketResultsBuilder.PointerCount))
            .InitResponse().SetPath(path);
        call.Return();
    }

    /// <summary>
    /// Takes the fds that <paramref name="additional"/> and <paramref name="leak"/> name, all or
    /// none: false with the reason (naming the slot) when one of them is unknown or taken.
    /// </summary>
    bool TryTakeFds(PrimitiveListReader<ulong> additional, PrimitiveListReader<ulong> leak,
        out OwnedFd[] additionalFds, out OwnedFd[] leakFds, out string? error)
    {
        additionalFds = leakFds = [];
        error = null;
        if (additional.Count == 0 && leak.Count == 0) return true;
        var slots = new ulong[additional.Count + leak.Count];
        for (int i = 0; i < additional.Count; i++) slots[i] = additional[i];
        for (int i = 0; i < leak.Count; i++) slots[additional.Count + i] = leak[i];
        string? reason = fdSocket is null
            ? $"no file descriptor in slot {slots[0]} (this server has no fd socket)"
            : fdSocket.Slots.CannotTake(slots);
        if (reason is not null)
        {
            error = $"additionalFds/leakFds: {reason}";
            return false;
        }
        additionalFds = fdSocket!.Slots.Take(slots.AsSpan(0, additional.Count));
        leakFds = fdSocket.Slots.Take(slots.AsSpan(additional.Count));
        return true;
    }
}
