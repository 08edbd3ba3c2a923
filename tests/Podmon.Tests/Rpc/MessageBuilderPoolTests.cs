using System.Buffers;
using System.Reflection;
using Podmon.Capnp;

namespace Podmon.Tests.Rpc;

/// <summary>
/// A message built once big must not leave its buffer in the shared pool (nor in the builder after
/// Reset): the pool would hold one burst's memory for the life of the process.
/// </summary>
public class MessageBuilderPoolTests
{
    static byte[] BufferOf(MessageBuilder m) =>
        (byte[])typeof(MessageBuilder).GetField("_buffer", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(m)!;

    [Fact]
    public void BuffersOverOneMebibyteAreNeitherKeptNorPooled()
    {
        var m = new MessageBuilder();
        m.Root.InitData(3 << 20).Fill(1);
        byte[] big = BufferOf(m);
        Assert.True(big.Length > MessageBuilder.PooledMaxBytes);
        m.Reset();
        byte[] small = BufferOf(m);
        Assert.True(small.Length <= MessageBuilder.PooledMaxBytes, $"{small.Length} bytes kept after Reset");
        m.Root.InitData(3 << 20);
        byte[] big2 = BufferOf(m);
        m.Dispose();
        // The shared pool hands a returned array back first on the same thread: neither may come back.
        var rented = Enumerable.Range(0, 4).Select(_ => ArrayPool<byte>.Shared.Rent(big2.Length)).ToList();
        Assert.DoesNotContain(rented, a => ReferenceEquals(a, big) || ReferenceEquals(a, big2));
        rented.ForEach(a => ArrayPool<byte>.Shared.Return(a));
    }

    /// <summary>Podmon.Capnp cannot reference podmon, so it applies the platform's pool rule itself: the same limit.</summary>
    [Fact]
    public void TheBuilderPoolsByThePlatformsRule() => Assert.Equal(Podmon.Sys.BufferPool.MaxPooledBytes, MessageBuilder.PooledMaxBytes);

    [Fact]
    public void SmallBuffersAreStillReusedAcrossReset()
    {
        using var m = new MessageBuilder();
        m.Root.InitData(100 << 10);
        byte[] b = BufferOf(m);
        m.Reset();
        Assert.Same(b, BufferOf(m));
    }
}
