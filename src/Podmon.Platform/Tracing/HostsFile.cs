using Podmon.Sys;

namespace Podmon.Tracing;

/// <summary>
/// Names from /etc/hosts (hosts(5): an address, then names and aliases; '#' starts a comment): the
/// one lookup the exporter does besides numeric addresses, since the static binary has no resolver.
/// </summary>
internal static class HostsFile
{
    /// <summary>The addresses listed for <paramref name="name"/> (case-insensitive), in file order; none if the file is unreadable.</summary>
    public static List<byte[]> Lookup(string path, string name)
    {
        var found = new List<byte[]>();
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return found; }
        foreach (string raw in lines)
        {
            int hash = raw.IndexOf('#');
            string line = hash >= 0 ? raw[..hash] : raw;
            string[] fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2) continue;
            for (int i = 1; i < fields.Length; i++)
                if (fields[i].Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    if (Libc.ParseNumericAddress(fields[0]) is { } addr) found.Add(addr);
                    break;
                }
        }
        return found;
    }
}
