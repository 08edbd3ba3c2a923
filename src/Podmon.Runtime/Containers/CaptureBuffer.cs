using System.Text;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// Collects output up to a limit (exec-sync results, a runtime's messages); the rest is counted and
/// dropped. The bytes live in a buffer under <see cref="BufferPool"/>'s policy, rented at the first
/// byte and given back on <see cref="Dispose"/>; <see cref="Written"/> is read in place (an
/// exec-sync reply copies it once, into the message). Not disposing only costs the pool the array.
/// </summary>
public sealed class CaptureBuffer(int limit) : IOutputSink, IDisposable
{
    byte[] _data = [];
    int _length;

    public bool Truncated { get; private set; }
    public int Length => _length;

    /// <summary>What was captured; valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<byte> Written => _data.AsSpan(0, _length);

    public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data) => Append(data);

    public void Append(ReadOnlySpan<byte> data)
    {
        int room = limit - Length;
        if (data.Length > room)
        {
            Truncated = true;
            data = data[..room];
        }
        if (data.IsEmpty) return;
        if (_length + data.Length > _data.Length)
        {
            byte[] next = BufferPool.Take(Math.Min(limit, Math.Max(_length + data.Length, Math.Max(4096, _data.Length * 2))));
            _data.AsSpan(0, _length).CopyTo(next);
            BufferPool.Give(_data);
            _data = next;
        }
        data.CopyTo(_data.AsSpan(_length));
        _length += data.Length;
    }

    public string Text() => Encoding.UTF8.GetString(Written).Trim();

    public void Dispose()
    {
        BufferPool.Give(_data);
        _data = [];
        _length = 0;
    }
}
