using System.Diagnostics.CodeAnalysis;

namespace Podmon.Capnp;

/// <summary>
/// The one exception thrown for anything a peer can get wrong: malformed framing, bad pointers,
/// out-of-bounds targets, schema mismatches, exceeded traversal or nesting limits.
/// </summary>
public sealed class CapnpFormatException : Exception
{
    public CapnpFormatException(string message) : base(message) { }
}

/// <summary>A message grew past the <see cref="MessageBuilder.WordLimit"/> its builder was given.</summary>
public sealed class MessageLimitException(int limitWords)
    : Exception($"message exceeds the limit of {limitWords} words set for it")
{
    public int LimitWords { get; } = limitWords;
}

internal static class Throw
{
    [DoesNotReturn]
    public static void Format(string message) => throw new CapnpFormatException(message);

    [DoesNotReturn]
    public static void OutOfBounds() => throw new CapnpFormatException("pointer target is outside its segment");

    [DoesNotReturn]
    public static void TraversalLimit() =>
        throw new CapnpFormatException("traversal limit exceeded: message is too large or contains cycles");

    [DoesNotReturn]
    public static void NestingLimit() =>
        throw new CapnpFormatException("nesting limit exceeded: message is too deeply nested or contains cycles");

    [DoesNotReturn]
    public static void ListIndex(int index, int count) =>
        throw new CapnpFormatException($"list index {index} out of range (count {count})");

    [DoesNotReturn]
    public static void Argument(string message) => throw new ArgumentOutOfRangeException(null, message);
}
