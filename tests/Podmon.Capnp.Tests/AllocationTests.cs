using Podmon.Capnp.Rpc;
using Podmon.Schema;
using Xunit;

namespace Podmon.Capnp.Tests;

public class AllocationTests
{
    private static long ReadVersion(byte[] frame, ref ReadContext ctx)
    {
        var m = new RpcMessageReader(new MessageReader(frame, ref ctx).Root);
        VersionResponseReader v = VersionResultsReader.From(m.Return.Results.Content).Response;
        return v.ProcessId + v.Version.Length + v.Tag.Length + v.Commit.Length + v.BuildDate.Length + v.Target.Length
            + v.RustVersion.Length + v.CargoVersion.Length + v.CargoTree.Length + m.Return.AnswerId;
    }

    [Fact]
    public void SteadyStateReadingAndBuildingAllocateNothing()
    {
        byte[] frame = GoldenFrames.Load("version-response");
        ReadContext ctx = default;
        using var mb = new MessageBuilder();
        long sum = 0;
        for (int i = 0; i < 2000; i++)
        {
            sum += ReadVersion(frame, ref ctx);
            mb.Reset();
            BuilderTests.BuildVersionReturn(mb, (uint)i);
            sum += mb.Frame.Length;
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            sum += ReadVersion(frame, ref ctx);
            mb.Reset();
            BuilderTests.BuildVersionReturn(mb, (uint)i);
            sum += mb.Frame.Length;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.True(sum > 0);
    }
}
