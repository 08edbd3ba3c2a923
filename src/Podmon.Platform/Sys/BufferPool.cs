using System.Buffers;
using System.Numerics;

namespace Podmon.Sys;

/// <summary>
/// The one pool policy of podmon's buffers. A buffer that lives for one operation (a message being
/// built, an exec-sync's output) comes from here: up to <see cref="MaxPooledBytes"/> it is rented
/// from and returned to <see cref="ArrayPool{T}.Shared"/>; a bigger one is a plain array that
/// becomes garbage when given back. A buffer that lives at a peer's pace (an outbound queue of a
/// connection, an attach client, stdin) is a plain array of its owner, dropped when emptied past
/// the owner's keep size. The shared pool keeps what it is given for the life of the process (the
/// idle collector cannot give it back), so neither a burst's big buffers nor a connection's
/// grown queue may go there. Podmon.Capnp, which cannot reference podmon, applies the same rule to
/// its message buffers itself (<c>MessageBuilder</c>; a test pins the two limits together).
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
