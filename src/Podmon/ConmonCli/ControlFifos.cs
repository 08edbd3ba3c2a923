using System.Text;
using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;
using StreamPipe = Podmon.Sys.Pipe;

namespace Podmon.ConmonCli;

/// <summary>
/// conmon's control FIFOs in the bundle: `ctl` takes "1 HEIGHT WIDTH" (resize) and "2 0 0"
/// (reopen the logs), `winsz` takes "HEIGHT WIDTH". Each is held open for writing too, so a
/// client that closes causes no EOF. A line is parsed where it lies in the read buffer; only a
/// line that arrives in pieces is gathered (in a fixed 1 KiB buffer): nothing is allocated per
/// chunk or line. Not System.IO.Pipelines: a Pipe would copy every chunk and adds ~50 kB of
/// writable type data that every podmon process, server too, keeps resident (docs/build-notes.md, Dependencies).
/// </summary>
sealed class ControlFifos : IDisposable
{
    readonly Fifo _ctl, _winsz;

    public ControlFifos(EventLoop loop, string bundle, Action<int, int> resize, Action reopenLogs)
    {
        _ctl = new Fifo(loop, Path.Combine(bundle, "ctl"), (values, count) =>
        {
            if (count >= 3 && values[0] == 1) resize(values[1], values[2]);
            else if (count >= 1 && values[0] == 2) reopenLogs();
            else return false;
            return true;
        });
        try
        {
            _winsz = new Fifo(loop, Path.Combine(bundle, "winsz"), (values, count) =>
            {
                if (count < 2) return false;
                resize(values[0], values[1]);
                return true;
            });
        }
        catch
        {
            _ctl.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _ctl.Dispose();
        _winsz.Dispose();
    }

    /// <summary>Handles one line's numbers; false: not a command of this FIFO.</summary>
    delegate bool LineHandler(ReadOnlySpan<int> values, int count);

    sealed class Fifo : IOutputSink, IDisposable
    {
        const int MaxLine = 1024;

        readonly string _path;
        readonly LineHandler _handle;
        readonly OutputReader _reader;
        readonly OwnedFd _writer;
        readonly byte[] _partial = new byte[MaxLine]; // a line that arrived in pieces, until its newline
        int _partialLength;
        bool _overlong; // dropping the rest of a line longer than MaxLine

        public Fifo(EventLoop loop, string path, LineHandler handle)
        {
            _path = path;
            _handle = handle;
            if (Libc.mkfifo(path, 0b110_110_000) < 0 && Errno.Last != Errno.EEXIST)
                throw new SyscallException("mkfifo", Errno.Last, path);
            var r = OwnedFd.Check(Libc.open(path, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0), "open", path);
            _writer = OwnedFd.Check(Libc.open(path, Libc.O_WRONLY | Libc.O_CLOEXEC, 0), "open", path);
            _reader = new OutputReader(loop, r, StreamPipe.Stdout, this);
        }

        public void OnOutput(StreamPipe pipe, ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                int nl = data.IndexOf((byte)'\n');
                ReadOnlySpan<byte> piece = nl < 0 ? data : data[..nl];
                data = nl < 0 ? default : data[(nl + 1)..];
                if (nl >= 0 && _partialLength == 0 && !_overlong)
                {
                    Handle(piece); // the common case: a whole line in one read, parsed where it lies
                    continue;
                }
                if (!_overlong && _partialLength + piece.Length <= MaxLine)
                {
                    piece.CopyTo(_partial.AsSpan(_partialLength));
                    _partialLength += piece.Length;
                }
                else if (!_overlong)
                {
                    Log.Warn($"{_path}: a control line longer than {MaxLine} bytes; dropped");
                    _overlong = true;
                }
                if (nl < 0) return;
                if (!_overlong) Handle(_partial.AsSpan(0, _partialLength));
                _partialLength = 0;
                _overlong = false;
            }
        }

        void Handle(ReadOnlySpan<byte> line)
        {
            Span<int> values = stackalloc int[3];
            if (!Numbers(line, values, out int count) || !_handle(values, count))
                Log.Warn($"{_path}: bad control line '{Encoding.ASCII.GetString(line)}'");
        }

        /// <summary>Up to three space-separated decimal integers (a leading '-' allowed), conmon's sscanf("%d %d %d").</summary>
        static bool Numbers(ReadOnlySpan<byte> line, Span<int> values, out int count)
        {
            count = 0;
            int i = 0;
            while (true)
            {
                while (i < line.Length && line[i] is (byte)' ' or (byte)'\t' or (byte)'\r') i++;
                if (i == line.Length) return count > 0;
                if (count == values.Length) return true; // conmon reads what it needs and ignores the rest
                bool negative = line[i] == (byte)'-';
                if (negative) i++;
                long v = 0;
                int start = i;
                for (; i < line.Length && line[i] is >= (byte)'0' and <= (byte)'9'; i++) v = Math.Min(v * 10 + (line[i] - '0'), int.MaxValue);
                if (i == start || (i < line.Length && line[i] is not ((byte)' ' or (byte)'\t' or (byte)'\r'))) return false;
                values[count++] = (int)(negative ? -v : v);
            }
        }

        public void Dispose()
        {
            _reader.Dispose();
            _writer.Dispose();
        }
    }
}
