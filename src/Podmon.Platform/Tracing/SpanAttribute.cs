namespace Podmon.Tracing;

/// <summary>One attribute of a span: a key with a string, integer or boolean value (OTLP's AnyValue cases podmon uses).</summary>
internal readonly struct SpanAttribute
{
    public enum ValueKind : byte { String, Int, Bool }

    public SpanAttribute(string key, string value) { Key = key; Kind = ValueKind.String; Text = value; }
    public SpanAttribute(string key, long value) { Key = key; Kind = ValueKind.Int; Number = value; }
    public SpanAttribute(string key, bool value) { Key = key; Kind = ValueKind.Bool; Number = value ? 1 : 0; }

    public string Key { get; }
    public ValueKind Kind { get; }
    public string? Text { get; }
    /// <summary>The integer, or 1/0 for a boolean.</summary>
    public long Number { get; }

    public override string ToString() => Kind switch
    {
        ValueKind.String => $"{Key}={Text}",
        ValueKind.Bool => $"{Key}={(Number != 0 ? "true" : "false")}",
        _ => $"{Key}={Number}",
    };
}
