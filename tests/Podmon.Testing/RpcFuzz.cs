namespace Podmon.Testing;

/// <summary>
/// Fuzz input for an RPC server, in process (RpcSessionFuzzTests) or the published one
/// (RpcServerFuzzTests, RpcServerTests): seed streams from the golden frames and random mutations of them.
/// </summary>
public static class RpcFuzz
{
    /// <summary>Seed streams: every golden request behind a Bootstrap, and every recorded c2s stream.</summary>
    public static readonly byte[][] Seeds = LoadSeeds();

    /// <summary>
    /// For a real server: without the createNamespaces request that names a real pod under
    /// /var/run, which a real server would pin on the host (its error twin, with every field read, stays).
    /// </summary>
    public static readonly byte[][] ServerSeeds = LoadSeeds("/create-namespaces-request.bin");

    static byte[][] LoadSeeds(string? skip = null)
    {
        string wire = GoldenFrames.Dir;
        byte[] boot = GoldenFrames.Load("bootstrap-request");
        var seeds = new List<byte[]>();
        foreach (string f in Directory.GetFiles(wire, "*-request.bin").Where(f => !f.EndsWith("/bootstrap-request.bin") && (skip is null || !f.EndsWith(skip))).Order(StringComparer.Ordinal))
            seeds.Add([.. boot, .. File.ReadAllBytes(f), .. GoldenFrames.Load("finish-call"), .. GoldenFrames.Load("release-bootstrap-cap")]);
        seeds.Add(File.ReadAllBytes(Path.Combine(wire, "version-session-c2s.bin")));
        foreach (string f in Directory.GetFiles(Path.Combine(wire, "sessions"), "c2s.bin", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            // The recorded createNamespaces session (pod1 under /var/run) would pin real namespaces on a real server, too.
            if (skip is not null && Path.GetFileName(Path.GetDirectoryName(f)) + "-request.bin" == skip.TrimStart('/')) continue;
            seeds.Add(File.ReadAllBytes(f));
        }
        // Protocol messages podmon answers specially, so mutations reach those paths too.
        seeds.Add([.. boot, .. RpcWire.DisembargoSenderLoopback(0, 5), .. RpcWire.Resolve(3), .. RpcWire.Provide(9),
            .. RpcWire.Call(1, 0, method: 2), .. RpcWire.Call(2, null, 0, method: 0), .. RpcWire.Finish(1, true), .. RpcWire.Release(0, 1)]);
        return [.. seeds];
    }

    static readonly uint[] Interesting = [0, 1, 2, 7, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFC, 0x0001_0000, 0x0100_0000];

    public static byte[] Mutate(byte[] seed, Random r)
    {
        var b = new List<byte>(seed);
        int ops = 1 + r.Next(4);
        for (int i = 0; i < ops && b.Count > 0; i++)
        {
            int at = r.Next(b.Count);
            switch (r.Next(8))
            {
                case 0: b[at] ^= (byte)(1 << r.Next(8)); break;
                case 1: b[at] = (byte)r.Next(256); break;
                case 2: // an interesting 32-bit value on a 4-byte boundary (counts, offsets, ids)
                {
                    int w = at & ~3;
                    uint v = Interesting[r.Next(Interesting.Length)];
                    for (int k = 0; k < 4 && w + k < b.Count; k++) b[w + k] = (byte)(v >> (8 * k));
                    break;
                }
                case 3: // copy another word over this one (pointer confusion)
                {
                    int from = r.Next(b.Count) & ~7, to = at & ~7;
                    for (int k = 0; k < 8 && from + k < b.Count && to + k < b.Count; k++) b[to + k] = b[from + k];
                    break;
                }
                case 4: b.RemoveRange(at, b.Count - at); break; // truncate
                case 5: b.InsertRange(at, Enumerable.Range(0, 1 + r.Next(16)).Select(_ => (byte)r.Next(256))); break;
                case 6: b.RemoveRange(at, Math.Min(b.Count - at, 1 + r.Next(16))); break;
                default: // duplicate a range (a replayed message, or half of one)
                {
                    int len = Math.Min(b.Count - at, 8 + r.Next(200));
                    b.InsertRange(r.Next(b.Count + 1), b.GetRange(at, len));
                    break;
                }
            }
        }
        return [.. b];
    }
}
