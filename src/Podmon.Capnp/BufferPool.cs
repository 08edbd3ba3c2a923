using System.Buffers;
using System.Numerics;

namespace Podmon.Capnp;

/// <summary>
/// The one pool policy of podmon's buffers (messages, outbound queues, exec-sync output): a buffer
/// of up to <see cref="MaxPooledBytes"/> is rented from and returned to <see cref="ArrayPool{T}.Shared"/>;
/// a bigger one is a plain array that becomes garbage when given back. The shared pool keeps what
/// it is given for the life of the process, so one burst's big buffers must never go there.
/// </summary>
public static class BufferPool
{
    public const int MaxPooledBytes = 1024 * 1024;

    public static byte[] Take(int bytes) =>
        bytes <= MaxPooledBytes ? ArrayPool<byte>.Shared.Rent(bytes) : GC.AllocateUninitializedArray<byte>(bytes);

    /// <summary>Gives a buffer from <see cref="Take"/> back; an empty or unpooled one is just dropped.</summary>
    public static void Give(byte[] buffer)
    {
        // Only the shared pool's own sizes (powers of two from 16 bytes) are accepted by it.
        if (buffer.Length is >= 16 and <= MaxPooledBytes && BitOperations.IsPow2(buffer.Length)) ArrayPool<byte>.Shared.Return(buffer);
    }
}
