using Podmon.Sys;
using Podmon.Diagnostics;

namespace Podmon.Logging;

/// <summary>All log drivers of one container: every chunk goes to each of them.</summary>
public sealed class ContainerLog : IDisposable
{
    /// <summary>Smallest accepted maxSize: a timestamped record must fit in an empty file.</summary>
    public const ulong MinMaxSize = 128;

    readonly ILogWriter[] _writers;
    readonly bool[] _failed;

    ContainerLog(ILogWriter[] writers)
    {
        _writers = writers;
        _failed = new bool[writers.Length];
    }

    public static readonly ContainerLog None = new([]);

    public int Count => _writers.Length;

    /// <summary>
    /// Checks the drivers and opens their files; any problem is an exception naming it. A file is
    /// truncated only at <see cref="Commit"/> (or its first record), and <see cref="Discard"/>
    /// removes the ones that did not exist, so a failed create changes no log file.
    /// </summary>
    public static ContainerLog Open(IReadOnlyList<LogDriverConfig> drivers, string containerId, string journalSocket)
    {
        foreach (LogDriverConfig d in drivers)
        {
            if (d.Type != LogDriverType.Journald && string.IsNullOrEmpty(d.Path))
                throw new ArgumentException($"log driver {d.Type} requires a path");
            if (d.MaxSize != 0 && d.MaxSize < MinMaxSize)
                throw new ArgumentException($"log driver {d.Type}: maxSize {d.MaxSize} is below the minimum of {MinMaxSize} bytes");
        }
        var writers = new List<ILogWriter>(drivers.Count);
        try
        {
            foreach (LogDriverConfig d in drivers)
            {
                writers.Add(d.Type switch
                {
                    LogDriverType.ContainerRuntimeInterface => new CriLogWriter(d.Append
                        ? LogFile.Append(d.Path!, d.MaxSize, 0b110_000_000)
                        : LogFile.Create(d.Path!, d.MaxSize, 0b110_000_000)) { GlobalMaxSize = d.GlobalMaxSize },
                    LogDriverType.Json => new JsonLogWriter(LogFile.Create(d.Path!, d.MaxSize, 0b110_100_100)),
                    LogDriverType.Journald => JournaldLogWriter.Open(journalSocket, containerId, d.JournalFields),
                    _ => throw new ArgumentException($"unknown log driver type {(int)d.Type}"),
                });
            }
        }
        catch
        {
            foreach (ILogWriter w in writers)
            {
                w.OutputFile?.Discard();
                w.Dispose();
            }
            throw;
        }
        return new ContainerLog([.. writers]);
    }

    /// <summary>Writes a chunk to every driver. A failing driver is reported once and skipped for this chunk only.</summary>
    public void Write(Pipe pipe, ReadOnlySpan<byte> data, in LogTime time)
    {
        for (int i = 0; i < _writers.Length; i++)
        {
            try
            {
                _writers[i].Write(pipe, data, time);
                _failed[i] = false;
            }
            catch (Exception e)
            {
                if (!_failed[i]) Log.Error($"container log: {ErrorText.Describe(e)}");
                _failed[i] = true;
            }
        }
    }

    /// <summary>The container exists: every file becomes its log (a file that was there is emptied now unless appending).</summary>
    public void Commit()
    {
        foreach (ILogWriter w in _writers)
        {
            try { w.OutputFile?.Commit(); }
            catch (Exception e) { Log.Error($"container log: {e.Message}"); }
        }
    }

    /// <summary>The container never came to exist: files created for it and never written are removed.</summary>
    public void Discard()
    {
        foreach (ILogWriter w in _writers) w.OutputFile?.Discard();
    }

    public void Sync()
    {
        foreach (ILogWriter w in _writers)
        {
            try { w.Sync(); }
            catch (Exception e) { Log.Error($"container log sync: {ErrorText.Describe(e)}"); }
        }
    }

    /// <summary>
    /// <see cref="Sync"/> without stopping the loop when it waits on an io_uring
    /// (<see cref="RingLogSync"/>); <paramref name="done"/> runs when the files are durable (at
    /// once on epoll, after the blocking sync).
    /// </summary>
    public void Sync(Loop.EventLoop loop, Action done)
    {
        if (loop.Ring is { } ring)
        {
            RingLogSync.Start(loop, ring, _writers.Select(w => w.OutputFile).OfType<LogFile>(), Sync, done);
            return;
        }
        Sync();
        done();
    }

    /// <summary>Reopens every driver; the first failure is rethrown after trying all.</summary>
    public void Reopen()
    {
        Exception? first = null;
        foreach (ILogWriter w in _writers)
        {
            try { w.Reopen(); }
            catch (Exception e) { first ??= e; }
        }
        if (first is not null) throw first;
    }

    public void Dispose()
    {
        foreach (ILogWriter w in _writers)
        {
            try { w.Dispose(); }
            catch (Exception e) { Log.Error($"container log close: {ErrorText.Describe(e)}"); }
        }
    }
}
