using System.Text;
using Podmon.Logging;

namespace Podmon.Containers;

/// <summary>Collects output up to a limit (exec-sync results, a runtime's messages); the rest is counted and dropped.</summary>
public sealed class CaptureBuffer(int limit) : IOutputSink
{
    byte[] _data = [];
    int _length;

    public bool Truncated { get; private set; }
    public int Length => _length;

    public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data) => Append(data);

    public void Append(ReadOnlySpan<byte> data)
    {
        int room = limit - _length;
        if (data.Length > room)
        {
            Truncated = true;
            data = data[..room];
        }
        if (data.IsEmpty) return;
        if (_length + data.Length > _data.Length)
            Array.Resize(ref _data, Math.Min(limit, Math.Max(_length + data.Length, Math.Max(4096, _data.Length * 2))));
        data.CopyTo(_data.AsSpan(_length));
        _length += data.Length;
    }

    public byte[] ToArray() => _data.AsSpan(0, _length).ToArray();

    public string Text() => Encoding.UTF8.GetString(_data, 0, _length).Trim();
}
