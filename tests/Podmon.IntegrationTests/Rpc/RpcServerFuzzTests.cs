using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Podmon.Capnp.Rpc;
using Xunit.Abstractions;

namespace Podmon.IntegrationTests.Rpc;

/// <summary>
/// Mutated RPC frames against the published server process (the in-process fuzz in
/// <see cref="RpcSessionFuzzTests"/> checks the session; this one the whole server: transport,
/// framing, budget, half-close). Each connection sends a Bootstrap, then up to 32 golden requests
/// (renumbered, most of them mutated) each followed by its Finish, then a valid version call, and
/// half-closes; the server must answer or abort with a reason, and close. A well-behaved connection
/// makes version calls throughout. Seeded: the seed is printed, PODMON_FUZZ_SEED replays a run and
/// PODMON_FUZZ_CONNECTION one connection of it; PODMON_FUZZ_FRAMES sets how many mutated frames.
/// createContainer and execSyncContainer requests are left out: mutated paths there would make a
/// root server create files anywhere (their parsing is fuzzed in process).
/// </summary>
public class RpcServerFuzzTests(ITestOutputHelper output)
{
    static readonly bool Ci = Environment.GetEnvironmentVariable("CI") == "true";

    static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int v) ? v : fallback;

    // Not create-namespaces-request: it names a real pod under /var/run, which this real server
    // would pin on the host; its error twin (every field read, then refused) stays.
    static readonly string[] Requests =
        ["version-request", "version-verbose-meta-request", "set-window-size-request", "attach-request",
         "create-namespaces-error-request", "serve-exec-request"];

    static readonly byte[][] Pool = LoadPool();

    static byte[][] LoadPool()
    {
        var pool = Requests.Select(GoldenFrames.Load).ToList();
        pool.AddRange([RpcWire.DisembargoSenderLoopback(0, 5), RpcWire.Resolve(3), RpcWire.Provide(9), RpcWire.Release(0, 1),
            RpcWire.Call(1, 0, method: 2), RpcWire.Call(1, null, 0), RpcWire.Call(1, 0, transformField: 0), RpcWire.Bootstrap(1)]);
        return [.. pool];
    }

    /// <summary>Puts <paramref name="id"/> in a Call's or Bootstrap's questionId (the first u32 of the variant's data).</summary>
    static byte[] WithQuestionId(byte[] frame, uint id)
    {
        byte[] f = (byte[])frame.Clone();
        Msg m = RpcWire.Decode(f);
        if (m.Which is not (RpcMessageWhich.Call or RpcMessageWhich.Bootstrap)) return f;
        var seg = f.AsSpan(8);
        int root = 1 + (int)((uint)BinaryPrimitives.ReadUInt64LittleEndian(seg) >> 2);
        ulong rootPtr = BinaryPrimitives.ReadUInt64LittleEndian(seg);
        int dataWords = (ushort)(rootPtr >> 32);
        int ptrAt = root + dataWords;
        ulong p = BinaryPrimitives.ReadUInt64LittleEndian(seg[(8 * ptrAt)..]);
        int variant = ptrAt + 1 + (int)((uint)p >> 2);
        BinaryPrimitives.WriteUInt32LittleEndian(seg[(8 * variant)..], id);
        return f;
    }

    /// <summary>One connection's stream (deterministic from seed and index) and its mutated frame count.</summary>
    static (byte[] Stream, int Mutated) BuildStream(int seed, int index)
    {
        var r = new Random(HashCode.Combine(seed, index));
        var s = new List<byte>(RpcWire.Bootstrap(0));
        int units = 1 + r.Next(32), mutated = 0;
        for (uint j = 1; j <= units; j++)
        {
            byte[] frame = WithQuestionId(Pool[r.Next(Pool.Length)], j);
            if (r.Next(4) != 0) { frame = RpcFuzz.Mutate(frame, r); mutated++; }
            s.AddRange(frame);
            s.AddRange(RpcWire.Finish(j));
        }
        byte[] stream = [.. s];
        if (r.Next(8) == 0) { stream = RpcFuzz.Mutate(stream, r); mutated++; } // across frame boundaries
        return ([.. stream, .. RpcWire.Call(Sentinel, 0)], mutated);
    }

    const uint Sentinel = 1_000_000;

    /// <summary>Runs one connection; returns the mutated frames the server provably processed.</summary>
    static int RunConnection(string socket, int pid, int seed, int index)
    {
        (byte[] stream, int mutated) = BuildStream(seed, index);
        using var c = new RawClient(socket, 20_000);
        var writer = new Thread(() =>
        {
            try { c.Send(stream); c.ShutdownWrite(); }
            catch (SocketException) { } // aborted and closed before it all went out
        });
        writer.Start();
        List<Msg> got;
        try { got = c.ReadToEnd(); }
        catch (Exception e) { throw new Xunit.Sdk.XunitException($"connection {index}: {e.Message}"); }
        writer.Join();
        string where = $"connection {index} (PODMON_FUZZ_CONNECTION={index})";
        foreach (Msg m in got)
            Assert.True(m.Which is RpcMessageWhich.Return or RpcMessageWhich.Abort or RpcMessageWhich.Disembargo or RpcMessageWhich.Unimplemented, $"{where}: sent {m.Which}");
        int abort = got.FindIndex(m => m.Which == RpcMessageWhich.Abort);
        // Not aborted: the server read and processed everything before it closed (a mutated length
        // may have swallowed the sentinel into a frame left incomplete, which the close reports).
        if (abort < 0) return mutated;
        Assert.True(abort == got.Count - 1, $"{where}: messages after the Abort");
        Assert.False(string.IsNullOrEmpty(got[abort].Reason), $"{where}: Abort without a reason");
        int answered = got.Where(m => m.Which == RpcMessageWhich.Return && m.Id is > 0 and < Sentinel).Select(m => m.Id).Distinct().Count();
        return Math.Min(mutated, answered + 1);
    }

    [Fact]
    public void MutatedFramesNeitherHurtTheServerNorAWellBehavedClient()
    {
        int seed = EnvInt("PODMON_FUZZ_SEED", Random.Shared.Next());
        int target = EnvInt("PODMON_FUZZ_FRAMES", Ci ? 100_000 : 20_000);
        int only = EnvInt("PODMON_FUZZ_CONNECTION", -1);
        output.WriteLine($"seed {seed}: PODMON_FUZZ_SEED={seed} reproduces this run");
        using var server = new RpcTestServer();

        var stop = new ManualResetEventSlim();
        Exception? goodFailure = null;
        int goodRounds = 0;
        var good = new Thread(() =>
        {
            try
            {
                using var g = new RawClient(server.Socket);
                g.VersionRound(server.Pid, 1, 1, bootstrap: true);
                for (uint id = 2; !stop.IsSet; id++, goodRounds++)
                {
                    g.VersionRound(server.Pid, id, 1, bootstrap: false);
                    stop.Wait(5);
                }
            }
            catch (Exception e) { goodFailure = e; }
        });
        good.Start();

        var sw = Stopwatch.StartNew();
        long processed = 0;
        int connections = 0, next = only >= 0 ? only : 0;
        Exception? failure = null;
        var workers = Enumerable.Range(0, only >= 0 ? 1 : 4).Select(_ => new Thread(() =>
        {
            while (failure is null && Interlocked.Read(ref processed) < target && sw.Elapsed < TimeSpan.FromSeconds(120))
            {
                int index = only >= 0 ? only : Interlocked.Increment(ref next) - 1;
                try { Interlocked.Add(ref processed, RunConnection(server.Socket, server.Pid, seed, index)); }
                catch (Exception e) { failure ??= new Xunit.Sdk.XunitException($"seed {seed} (PODMON_FUZZ_SEED={seed}): {e.Message}", e); }
                Interlocked.Increment(ref connections);
                if (only >= 0) return;
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        stop.Set();
        good.Join();
        output.WriteLine($"{processed} mutated frames processed over {connections} connections in {sw.Elapsed.TotalSeconds:F1} s; {goodRounds} version calls on the good connection");

        if (failure is not null) throw failure;
        Assert.True(goodFailure is null, $"seed {seed}: the well-behaved connection failed: {goodFailure}");
        if (only < 0) Assert.True(processed >= target, $"seed {seed}: only {processed} of {target} mutated frames in {sw.Elapsed}");
        Assert.True(goodRounds > 0);
        Assert.True(server.Alive, $"seed {seed}: server died");
        Assert.Equal(2, server.Threads);
        using var fresh = new RawClient(server.Socket);
        fresh.VersionRound(server.Pid, 1, 3, bootstrap: true);
    }
}
