namespace Podmon.Tracing;

/// <summary>
/// One operation being traced: made by <see cref="Tracer.StartSpan"/>, given attributes and maybe
/// an error, then ended. <see cref="End"/> takes the end time, encodes the span and copies the
/// bytes into the exporter's queue under a lock (about a microsecond, never network I/O, never a
/// wait for the exporter); it is idempotent, and changes after it are ignored. A span belongs to the thread that works on it until it ends. A span whose parent was
/// not sampled records nothing (the ParentBased(AlwaysOn) sampler conmon-rs's SDK defaults to) but
/// still has a context to propagate.
/// </summary>
public sealed class Span
{
    /// <summary>OpenTelemetry's default attribute count limit; more are counted as dropped.</summary>
    public const int MaxAttributes = 128;

    readonly ISpanSink? _sink; // null: not recording
    SpanAttribute[]? _attributes;
    int _ended;

    internal Span(ISpanSink? sink, SpanContext context, ulong parentSpanId, string name, SpanKind kind, long startUnixNanos)
    {
        _sink = sink;
        Context = context;
        ParentSpanId = parentSpanId;
        Name = name;
        Kind = kind;
        StartUnixNanos = startUnixNanos;
    }

    public SpanContext Context { get; }
    public string Name { get; }
    public SpanKind Kind { get; }
    public bool IsRecording => _sink is not null;

    /// <summary>0 for a root span.</summary>
    internal ulong ParentSpanId { get; }
    internal long StartUnixNanos { get; }
    internal long EndUnixNanos { get; private set; }
    internal int AttributeCount { get; private set; }
    internal int DroppedAttributes { get; private set; }
    internal string? ErrorMessage { get; private set; }
    internal bool IsError { get; private set; }
    internal bool ParentIsRemote { get; init; }

    internal ReadOnlySpan<SpanAttribute> Attributes => _attributes.AsSpan(0, AttributeCount);

    public void SetAttribute(string key, string value) => Set(new SpanAttribute(key, value ?? ""));
    public void SetAttribute(string key, long value) => Set(new SpanAttribute(key, value));
    public void SetAttribute(string key, bool value) => Set(new SpanAttribute(key, value));

    /// <summary>Status ERROR with <paramref name="message"/> (the last call wins).</summary>
    public void SetError(string message)
    {
        if (!IsOpen) return;
        IsError = true;
        ErrorMessage = message;
    }

    /// <summary>Takes the end time and queues the span for export; later calls do nothing.</summary>
    public void End() => EndAt(Tracer.NowUnixNanos());

    /// <summary><see cref="End"/> with a given end time (CLOCK_REALTIME nanoseconds; never before the start).</summary>
    internal void EndAt(long unixNanos)
    {
        if (_sink is null || Interlocked.Exchange(ref _ended, 1) != 0) return;
        EndUnixNanos = Math.Max(StartUnixNanos, unixNanos);
        _sink.Enqueue(this);
    }

    bool IsOpen => _sink is not null && Volatile.Read(ref _ended) == 0;

    void Set(SpanAttribute attribute)
    {
        if (!IsOpen) return;
        ArgumentNullException.ThrowIfNull(attribute.Key);
        for (int i = 0; i < AttributeCount; i++)
            if (_attributes![i].Key == attribute.Key)
            {
                _attributes[i] = attribute;
                return;
            }
        if (AttributeCount == MaxAttributes)
        {
            DroppedAttributes++;
            return;
        }
        if (_attributes is null || AttributeCount == _attributes.Length)
            Array.Resize(ref _attributes, Math.Min(MaxAttributes, Math.Max(4, AttributeCount * 2)));
        _attributes[AttributeCount++] = attribute;
    }

    public override string ToString() => $"{Name} {Context}";
}

/// <summary>Where an ended span goes: the tracer's export queue (or a test's list).</summary>
internal interface ISpanSink
{
    void Enqueue(Span span);
}
