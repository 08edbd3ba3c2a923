using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;
using StreamPipe = Podmon.Logging.Pipe;

namespace Podmon.ConmonCli;

/// <summary>
/// conmon's control FIFOs in the bundle: `ctl` takes "1 HEIGHT WIDTH" (resize) and "2 0 0"
/// (reopen the logs), `winsz` takes "HEIGHT WIDTH". Each is held open for writing too, so a
/// client that closes causes no EOF. Lines may arrive in any pieces: they are gathered in a
/// <see cref="System.IO.Pipelines.Pipe"/> run inline on the loop and parsed with a
/// <see cref="SequenceReader{T}"/>, nothing allocated per chunk or line.
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
        readonly System.IO.Pipelines.Pipe _lines = new(new PipeOptions(
            readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: 0, useSynchronizationContext: false));

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
            _lines.Writer.Write(data);
            _ = _lines.Writer.FlushAsync(); // completes at once: no pause threshold, inline schedulers
            if (!_lines.Reader.TryRead(out ReadResult result)) return;
            var reader = new SequenceReader<byte>(result.Buffer);
            while (reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n')) Handle(line);
            if (reader.Remaining > MaxLine)
            {
                Log.Warn($"{_path}: a control line longer than {MaxLine} bytes; dropped");
                reader.AdvanceToEnd();
            }
            _lines.Reader.AdvanceTo(reader.Position, result.Buffer.End);
        }

        void Handle(ReadOnlySequence<byte> line)
        {
            Span<int> values = stackalloc int[3];
            if (!Numbers(line, values, out int count) || !_handle(values, count))
                Log.Warn($"{_path}: bad control line '{Encoding.ASCII.GetString(line)}'");
        }

        /// <summary>Up to three space-separated decimal integers (a leading '-' allowed), conmon's sscanf("%d %d %d").</summary>
        static bool Numbers(ReadOnlySequence<byte> line, Span<int> values, out int count)
        {
            count = 0;
            var r = new SequenceReader<byte>(line);
            while (true)
            {
                r.AdvancePastAny((byte)' ', (byte)'\t', (byte)'\r');
                if (r.End) return count > 0;
                if (count == values.Length) return true; // conmon reads what it needs and ignores the rest
                bool negative = r.IsNext((byte)'-', advancePast: true);
                long v = 0;
                int digits = 0;
                while (r.TryPeek(out byte b) && b is >= (byte)'0' and <= (byte)'9')
                {
                    v = Math.Min(v * 10 + (b - '0'), int.MaxValue);
                    digits++;
                    r.Advance(1);
                }
                if (digits == 0 || (r.TryPeek(out byte next) && next is not ((byte)' ' or (byte)'\t' or (byte)'\r'))) return false;
                values[count++] = (int)(negative ? -v : v);
            }
        }

        public void Dispose()
        {
            _reader.Dispose();
            _writer.Dispose();
            _lines.Reader.Complete();
            _lines.Writer.Complete();
        }
    }
}
