using System.Globalization;
using System.Text;

namespace Podmon.Rpc;

/// <summary>
/// Reads two keys of a flat JSON object whose values are all strings (<c>{"k":"v",...}</c>), which
/// is what the Go conmon-rs client puts in <c>metadataOld</c>. Small on purpose: a JSON library would
/// add its size to the binary for one map of two strings. Anything else (nesting, numbers, bad
/// escapes, trailing bytes) is malformed.
/// </summary>
static class FlatJson
{
    public static bool TryRead(ReadOnlySpan<byte> json, string key1, string key2, out string? value1, out string? value2)
    {
        value1 = value2 = null;
        int i = 0;
        if (!Expect(json, ref i, (byte)'{')) return false;
        Skip(json, ref i);
        if (i < json.Length && json[i] == '}') return End(json, i + 1);
        while (true)
        {
            if (!TryString(json, ref i, out string? key) || !Expect(json, ref i, (byte)':') || !TryString(json, ref i, out string? value))
                return false;
            if (key == key1) value1 = value;
            else if (key == key2) value2 = value;
            Skip(json, ref i);
            if (i >= json.Length) return false;
            if (json[i] == '}') return End(json, i + 1);
            if (json[i++] != ',') return false;
        }
    }

    static bool End(ReadOnlySpan<byte> json, int i)
    {
        Skip(json, ref i);
        return i == json.Length;
    }

    static void Skip(ReadOnlySpan<byte> json, ref int i)
    {
        while (i < json.Length && json[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r') i++;
    }

    static bool Expect(ReadOnlySpan<byte> json, ref int i, byte c)
    {
        Skip(json, ref i);
        if (i >= json.Length || json[i] != c) return false;
        i++;
        return true;
    }

    static bool TryString(ReadOnlySpan<byte> json, ref int i, out string? value)
    {
        value = null;
        if (!Expect(json, ref i, (byte)'"')) return false;
        var sb = new StringBuilder();
        int start = i;
        while (i < json.Length)
        {
            byte b = json[i];
            if (b == '"')
            {
                value = sb.Length == 0 ? Encoding.UTF8.GetString(json[start..i]) : sb.Append(Encoding.UTF8.GetString(json[start..i])).ToString();
                i++;
                return true;
            }
            if (b < 0x20) return false;
            if (b != '\\') { i++; continue; }
            sb.Append(Encoding.UTF8.GetString(json[start..i]));
            if (++i >= json.Length) return false;
            switch (json[i++])
            {
                case (byte)'"': sb.Append('"'); break;
                case (byte)'\\': sb.Append('\\'); break;
                case (byte)'/': sb.Append('/'); break;
                case (byte)'b': sb.Append('\b'); break;
                case (byte)'f': sb.Append('\f'); break;
                case (byte)'n': sb.Append('\n'); break;
                case (byte)'r': sb.Append('\r'); break;
                case (byte)'t': sb.Append('\t'); break;
                case (byte)'u':
                    if (i + 4 > json.Length || !ushort.TryParse(Encoding.ASCII.GetString(json.Slice(i, 4)), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort u))
                        return false;
                    sb.Append((char)u);
                    i += 4;
                    break;
                default: return false;
            }
            start = i;
        }
        return false;
    }
}
