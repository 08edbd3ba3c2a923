using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;

namespace Podmon.Capnp;

/// <summary>
/// Builds one message into a single growing segment in a pooled buffer. Reusable: <see cref="Reset"/>
/// keeps the buffer, so steady-state building allocates nothing. Builders (<see cref="StructBuilder"/>,
/// <see cref="PointerBuilder"/>, …) address the message by word index, so they stay valid when the buffer
/// grows; spans obtained from it (<see cref="Frame"/>, <see cref="PointerBuilder.InitData"/>) do not.
/// Buffers up to <see cref="PooledMaxBytes"/> are rented from <see cref="ArrayPool{T}.Shared"/> and returned to
/// it; bigger ones never come from or go back to the shared pool (it would keep one burst's big buffers for
/// the life of the process), and <see cref="Reset"/> lets such a buffer go. That is podmon's one pool rule
/// (its platform layer's BufferPool), applied here by the library itself: Podmon.Capnp references nothing of
/// podmon, so it takes the BCL's shared pool directly, as any .NET library does.
/// </summary>
public sealed class MessageBuilder : IDisposable
{
    private const int HeaderBytes = 8; // one segment: count-1 and size, no padding
    private const int MaxWords = (int)((0x7FFF_FFC7L - HeaderBytes) / 8);
    /// <summary>The largest buffer that is rented from and returned to <see cref="ArrayPool{T}.Shared"/> (podmon's BufferPool rule).</summary>
    public const int PooledMaxBytes = 1024 * 1024;

    private readonly int _initialBytes;
    private byte[] _buffer;
    private int _words;
    private int _limitWords = MaxWords;

    public MessageBuilder(int initialCapacityBytes = 1024)
    {
        _initialBytes = Math.Max(initialCapacityBytes, 64);
        _buffer = Take(_initialBytes);
        Reset();
    }

    /// <summary>
    /// The most words the segment may grow to (root pointer included); past it, allocation throws
    /// <see cref="MessageLimitException"/>. Kept across <see cref="Reset"/>.
    /// </summary>
    public int WordLimit
    {
        get => _limitWords;
        set => _limitWords = Math.Clamp(value, 1, MaxWords);
    }

    /// <summary>Discards the content; the root pointer becomes null. A buffer grown past the pool's size is dropped.</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        if (_buffer.Length > PooledMaxBytes)
            _buffer = Take(_initialBytes); // the big one is garbage now, not pooled
        _words = 1;
        _buffer.AsSpan(HeaderBytes, 8).Clear();
    }

    /// <summary>Words used in the (single) segment, root pointer included.</summary>
    public int SegmentWords => _words;

    public PointerBuilder Root => new(this, 0);

    public StructBuilder InitRoot(ushort dataWords, ushort pointerCount) => Root.InitStruct(dataWords, pointerCount);

    /// <summary>The complete frame (segment table + segment), ready for one write. Valid until the next change.</summary>
    public ReadOnlySpan<byte> Frame => FrameMemory.Span;

    public ReadOnlyMemory<byte> FrameMemory
    {
        get
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer, 0);
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(4), (uint)_words);
            return _buffer.AsMemory(0, HeaderBytes + _words * 8);
        }
    }

    public void Dispose()
    {
        byte[] b = _buffer;
        _buffer = [];
        if (b.Length != 0)
            Give(b);
    }

    /// <summary>Allocates zeroed words at the end of the segment and returns the first word's index.</summary>
    internal int Allocate(long words)
    {
        if (words > _limitWords - _words)
        {
            if (_limitWords < MaxWords) throw new MessageLimitException(_limitWords);
            throw new InvalidOperationException("message exceeds the maximum segment size");
        }
        int at = _words;
        int end = at + (int)words;
        long needBytes = HeaderBytes + (long)end * 8;
        if (needBytes > _buffer.Length)
            Grow(needBytes);
        _buffer.AsSpan(HeaderBytes + at * 8, (int)words * 8).Clear();
        _words = end;
        return at;
    }

    private void Grow(long needBytes)
    {
        long size = Math.Max(needBytes, (long)_buffer.Length * 2);
        if (_limitWords < MaxWords) size = Math.Min(size, HeaderBytes + (long)_limitWords * 8);
        size = Math.Max(size, needBytes);
        byte[] next = Take((int)Math.Min(size, Array.MaxLength));
        _buffer.AsSpan(0, HeaderBytes + _words * 8).CopyTo(next);
        Give(_buffer);
        _buffer = next;
    }

    private static byte[] Take(int bytes) =>
        bytes <= PooledMaxBytes ? ArrayPool<byte>.Shared.Rent(bytes) : GC.AllocateUninitializedArray<byte>(bytes);

    /// <summary>Gives a buffer from <see cref="Take"/> back; an empty or unpooled one is just dropped.</summary>
    private static void Give(byte[] buffer)
    {
        // Only the shared pool's own sizes (powers of two from 16 bytes) are accepted by it.
        if (buffer.Length is >= 16 and <= PooledMaxBytes && BitOperations.IsPow2(buffer.Length))
            ArrayPool<byte>.Shared.Return(buffer);
    }

    internal Span<byte> Words(int word, int count) => _buffer.AsSpan(HeaderBytes + word * 8, count * 8);

    internal Span<byte> Bytes(int word, int byteOffset, int count) =>
        _buffer.AsSpan(HeaderBytes + word * 8 + byteOffset, count);

    internal ulong ReadWord(int word) => BinaryPrimitives.ReadUInt64LittleEndian(Words(word, 1));

    internal void WriteWord(int word, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Words(word, 1), value);
}
