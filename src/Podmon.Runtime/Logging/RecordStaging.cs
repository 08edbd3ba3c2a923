using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// The bytes a <see cref="LogFile"/> has been given since its last flush, laid out for one writev:
/// short pieces are copied into the thread's format buffer (<see cref="Scratch"/>), long ones are
/// referenced where the caller keeps them, each as an iovec after the run of copied bytes before it.
/// The format buffer and the iovecs are the loop thread's, shared by every log file, so the
/// staging is taken (<see cref="Take"/>) before the caller's chunk ends. Knows nothing of files:
/// <see cref="LogFile"/> decides when to take and where the bytes go.
/// </summary>
sealed unsafe class RecordStaging
{
    int _pending;       // bytes in the format buffer
    int _runStart;      // where its run not yet in an iovec starts
    int _iovCount;      // staged iovecs (Scratch.IoVecs)
    long _staged;       // bytes in them

    /// <summary>Whether <paramref name="length"/> more bytes can be copied into the format buffer.</summary>
    public bool Fits(int length) => _pending + length <= Scratch.FormatBuffer.Length;

    /// <summary>Whether the format buffer has no room for one more byte.</summary>
    public bool IsFull => _pending == Scratch.Size;

    /// <summary>Whether a piece kept in place can be staged: it may need an iovec for the run before it too.</summary>
    public bool HasRoomInPlace => Scratch.IoVecCount - _iovCount >= 2;

    /// <summary>Copies <paramref name="data"/> into the format buffer; the caller checked <see cref="Fits"/>.</summary>
    public void Copy(ReadOnlySpan<byte> data)
    {
        data.CopyTo(Scratch.FormatBuffer.AsSpan(_pending));
        _pending += data.Length;
    }

    public void Copy(byte b) => Scratch.FormatBuffer[_pending++] = b;

    /// <summary>Ends the staged run of format-buffer bytes and queues <paramref name="data"/> after it, uncopied.</summary>
    public void Stage(byte* data, int length)
    {
        EndRun();
        Scratch.IoVecs[_iovCount++] = new Libc.IoVec { Base = data, Length = (nuint)length };
        _staged += length;
    }

    void EndRun()
    {
        if (_pending == _runStart) return;
        Scratch.IoVecs[_iovCount++] = new Libc.IoVec { Base = Scratch.FormatBufferPointer + _runStart, Length = (nuint)(_pending - _runStart) };
        _staged += _pending - _runStart;
        _runStart = _pending;
    }

    /// <summary>Hands out everything staged as iovecs (valid until the next staging) and starts empty; false if nothing is staged.</summary>
    public bool Take(out Libc.IoVec* iov, out int count, out long total)
    {
        EndRun();
        count = _iovCount;
        total = _staged;
        if (count == 0)
        {
            iov = null;
            return false;
        }
        iov = Scratch.IoVecs;
        _iovCount = 0;
        _pending = _runStart = 0;
        _staged = 0;
        return true;
    }
}
