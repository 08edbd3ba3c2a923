using Podmon.Capnp.Rpc;
using Podmon.Rpc;

namespace Podmon.IntegrationTests.Rpc;

/// <summary>The socket transport of the published binary, driven with raw frames.</summary>
public class RpcServerTests
{
    static readonly bool Ci = Environment.GetEnvironmentVariable("CI") == "true";

    static void AssertAbortThenClose(RawClient c, string reasonPrefix)
    {
        List<Msg> rest = c.ReadToEnd();
        Msg abort = Assert.Single(rest);
        Assert.Equal(RpcMessageWhich.Abort, abort.Which);
        Assert.StartsWith(reasonPrefix, abort.Reason);
        Assert.Equal(ExceptionType.Failed, abort.ExceptionType);
    }

    [Fact]
    public void GarbageFrameIsAbortedWhileAnotherConnectionKeepsWorking()
    {
        using var server = new RpcTestServer();
        using var good = new RawClient(server.Socket);
        good.VersionRound(server.Pid, 1, 3, bootstrap: true);

        // A valid header, then 4 words of garbage: the root pointer is nonsense.
        using (var bad = new RawClient(server.Socket))
        {
            byte[] garbage = [0, 0, 0, 0, 4, 0, 0, 0, .. Enumerable.Repeat((byte)0xEE, 32)];
            bad.Send(garbage);
            AssertAbortThenClose(bad, "malformed message: ");
        }
        // A header declaring 2^32 segments.
        using (var bad = new RawClient(server.Socket))
        {
            bad.Send([0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0]);
            AssertAbortThenClose(bad, "malformed message: frame declares 4294967296 segments (max 512)");
        }
        good.VersionRound(server.Pid, 10, 3, bootstrap: false);
        using (var fresh = new RawClient(server.Socket)) fresh.VersionRound(server.Pid, 1, 1, bootstrap: true);
        Assert.Equal(2, server.Threads);
    }

    [Fact]
    public void OversizedFrameIsRefusedFromItsHeader()
    {
        using var server = new RpcTestServer();
        using var good = new RawClient(server.Socket);
        good.VersionRound(server.Pid, 1, 1, bootstrap: true);
        using (var big = new RawClient(server.Socket))
        {
            // Only the 8-byte header is sent: the refusal must not wait for 100 MiB of body.
            big.Send(RpcWire.HeaderClaiming(100L << 20));
            AssertAbortThenClose(big, $"malformed message: frame of at least {(100L << 20) + 8} bytes exceeds the maximum message size of {RpcServer.DefaultBufferBudgetBytes} bytes");
        }
        good.VersionRound(server.Pid, 2, 5, bootstrap: false);
        using (var fresh = new RawClient(server.Socket)) fresh.VersionRound(server.Pid, 1, 1, bootstrap: true);
        Assert.True(server.Alive);
    }

    [Fact]
    public void ClientsLeavingMidFrameOrMidCallDoNotDisturbOthers()
    {
        using var server = new RpcTestServer();
        using var other = new RawClient(server.Socket);
        other.VersionRound(server.Pid, 1, 1, bootstrap: true);
        byte[] call = RpcWire.Call(1, 0);
        for (int round = 0; round < 20; round++)
        {
            // Half a frame, then gone.
            using (var c = new RawClient(server.Socket)) c.Send(RpcWire.Bootstrap(0), call[..(call.Length / 2)]);
            // Many calls in flight and nothing read, then gone (the server's answers hit a closed socket).
            using (var c = new RawClient(server.Socket))
                c.Send([.. RpcWire.Bootstrap(0), .. Enumerable.Range(1, 300).SelectMany(i => RpcWire.Call((uint)i, 0))]);
            // Shut down mid-frame, waiting for the server's close.
            using (var c = new RawClient(server.Socket))
            {
                c.Send(RpcWire.Bootstrap(0), call[..20]);
                c.ShutdownWrite();
                List<Msg> got = c.ReadToEnd(); // the server closes after the EOF
                Assert.True(got.Count <= 1 && got.All(m => m.Which == RpcMessageWhich.Return));
            }
            other.VersionRound(server.Pid, 10 + (uint)round, 1, bootstrap: false);
        }
        Assert.True(server.Alive);
        Assert.Equal(2, server.Threads);
    }

    [Fact]
    public void FiftyConcurrentConnectionsOnTwoThreads()
    {
        using var server = new RpcTestServer();
        var clients = Enumerable.Range(0, 50).Select(_ => new RawClient(server.Socket)).ToList();
        try
        {
            int maxThreads = 0;
            bool done = false;
            var watcher = new Thread(() =>
            {
                while (!Volatile.Read(ref done)) { maxThreads = Math.Max(maxThreads, server.Threads); Thread.Sleep(2); }
            });
            watcher.Start();
            Parallel.ForEach(clients, new ParallelOptions { MaxDegreeOfParallelism = 50 }, c =>
            {
                c.VersionRound(server.Pid, 1, 50, bootstrap: true);
                for (uint r = 1; r < 10; r++) c.VersionRound(server.Pid, 100 * r, 20, bootstrap: false);
            });
            Volatile.Write(ref done, true);
            watcher.Join();
            Assert.Equal(2, maxThreads);
            Assert.Equal(2, server.Threads);
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }

    [Fact]
    public void MutatedStreamsNeverKillTheServer()
    {
        using var server = new RpcTestServer();
        int cases = Ci ? 2000 : 300;
        var rnd = new Random(12345);
        int aborted = 0;
        for (int i = 0; i < cases; i++)
        {
            byte[] seed = RpcFuzz.ServerSeeds[rnd.Next(RpcFuzz.ServerSeeds.Length)];
            byte[] stream = RpcFuzz.Mutate(seed, rnd);
            using var c = new RawClient(server.Socket);
            try
            {
                c.Send(stream);
                c.ShutdownWrite();
            }
            catch (System.Net.Sockets.SocketException) { } // the server may have aborted and closed already
            List<Msg> got = c.ReadToEnd(); // the server must close every one of them
            if (got.Count > 0 && got[^1].Which == RpcMessageWhich.Abort)
            {
                aborted++;
                Assert.False(string.IsNullOrEmpty(got[^1].Reason));
            }
            Assert.DoesNotContain(got.SkipLast(1), m => m.Which == RpcMessageWhich.Abort);
        }
        Assert.True(aborted > 0);
        Assert.True(server.Alive);
        Assert.Equal(2, server.Threads);
        using var after = new RawClient(server.Socket);
        after.VersionRound(server.Pid, 1, 10, bootstrap: true);
    }
}
