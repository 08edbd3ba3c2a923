namespace Podmon.Streaming;

/// <summary>The resize channel's JSON, {"Width":W,"Height":H}: only these two numbers are read, without a JSON library.</summary>
static class ResizeMessage
{
    public static bool TryParse(ReadOnlySpan<byte> json, out ushort width, out ushort height)
    {
        width = height = 0;
        return Number(json, "\"width\""u8, out width) & Number(json, "\"height\""u8, out height);
    }

    static bool Number(ReadOnlySpan<byte> json, ReadOnlySpan<byte> key, out ushort value)
    {
        value = 0;
        int at = IndexOfIgnoreCase(json, key);
        if (at < 0) return false;
        ReadOnlySpan<byte> rest = json[(at + key.Length)..].TrimStart(" \t\r\n"u8);
        if (rest.IsEmpty || rest[0] != ':') return false;
        rest = rest[1..].TrimStart(" \t\r\n"u8);
        int n = 0, digits = 0;
        while (digits < rest.Length && rest[digits] is >= (byte)'0' and <= (byte)'9' && n <= ushort.MaxValue)
            n = n * 10 + (rest[digits++] - '0');
        if (digits == 0 || n > ushort.MaxValue) return false;
        value = (ushort)n;
        return true;
    }

    static int IndexOfIgnoreCase(ReadOnlySpan<byte> s, ReadOnlySpan<byte> lowerKey)
    {
        for (int i = 0; i + lowerKey.Length <= s.Length; i++)
        {
            int j = 0;
            while (j < lowerKey.Length && (s[i + j] | 0x20) == (lowerKey[j] | 0x20)) j++;
            if (j == lowerKey.Length) return i;
        }
        return -1;
    }
}
