namespace Podmon.Rpc;

/// <summary>
/// The bytes an <see cref="RpcConnection"/> has read and not yet handed on as frames. It stays
/// small for the frames real clients send; a frame bigger than <see cref="SmallFrame"/> gets a
/// buffer of its own size only when the server-wide budget (<see cref="RpcServer.TryReserve"/>)
/// can take it, and goes back to a small buffer (and frees its budget) once that frame is done.
/// Own arrays, not ArrayPool.Shared: the pool would keep a burst's big buffers alive, and the idle
/// collector gives them back instead.
/// </summary>
sealed class RpcInputBuffer(RpcServer server)
{
    internal const int InitialSize = 16 * 1024;
    /// <summary>Frames up to this size need no budget (every request a real client sends is far smaller).</summary>
    internal const int SmallFrame = 64 * 1024;

    byte[] _in = GC.AllocateUninitializedArray<byte>(InitialSize);
    int _start, _end;
    int _reserved; // budget held for _in (0 while it is a small buffer)

    /// <summary>Bytes read and not yet consumed (part of a frame, or frames not yet processed).</summary>
    public int Length => _end - _start;

    public ReadOnlySpan<byte> Data => new(_in, _start, _end - _start);

    /// <summary>Where the next read goes; empty when the buffer is full (see <see cref="MakeRoom"/>).</summary>
    public Span<byte> Free => _in.AsSpan(_end);

    /// <summary><paramref name="n"/> bytes were read into <see cref="Free"/>.</summary>
    public void Filled(int n) => _end += n;

    /// <summary>A frame of <paramref name="length"/> bytes was handed on.</summary>
    public void Consume(int length)
    {
        _start += length;
        if (_start == _end) _start = _end = 0;
    }

    /// <summary>
    /// The next frame is <paramref name="frameBytes"/> long and not complete: make room for it, or
    /// give a big buffer back if it is small. False if the budget cannot take it.
    /// </summary>
    public bool Expect(int frameBytes)
    {
        if (frameBytes > _in.Length - _start) return MakeRoom(frameBytes);
        if (_reserved > 0 && frameBytes <= SmallFrame) Shrink(frameBytes);
        return true;
    }

    /// <summary>
    /// Makes the buffer hold at least <paramref name="frameBytes"/> from the unread start. A buffer
    /// over <see cref="SmallFrame"/> is charged to the server's budget; false when it cannot take it.
    /// </summary>
    public bool MakeRoom(int frameBytes)
    {
        int used = _end - _start;
        if (frameBytes <= _in.Length)
        {
            Buffer.BlockCopy(_in, _start, _in, 0, used);
            _start = 0;
            _end = used;
            return true;
        }
        int size = frameBytes <= SmallFrame ? Math.Max(frameBytes, Math.Min(2 * _in.Length, SmallFrame)) : frameBytes;
        int charge = size > SmallFrame ? size : 0;
        if (charge > _reserved && !server.TryReserve(charge - _reserved)) return false;
        if (charge < _reserved) server.Release(_reserved - charge);
        _reserved = charge;
        Replace(size, used);
        return true;
    }

    /// <summary>The big frame is done: back to a small buffer, and its budget is freed.</summary>
    void Shrink(int nextFrameBytes)
    {
        int used = _end - _start;
        Replace(Math.Max(InitialSize, Math.Max(used, nextFrameBytes)), used);
        server.Release(_reserved);
        _reserved = 0;
    }

    void Replace(int size, int used)
    {
        byte[] next = GC.AllocateUninitializedArray<byte>(size);
        Buffer.BlockCopy(_in, _start, next, 0, used);
        _in = next;
        _start = 0;
        _end = used;
    }

    /// <summary>The connection closed: the memory and the budget go back.</summary>
    public void Release()
    {
        _in = [];
        _start = _end = 0;
        server.Release(_reserved);
        _reserved = 0;
    }
}
