using System.Globalization;
using System.Text;
using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// Exit files: the code as decimal text (conmon style), written to a temp file in the same
/// directory, fsynced, then renamed over the path, so a reader sees all of it or nothing.
/// </summary>
public static class ExitFiles
{
    /// <summary>Writes every path; failures are logged and the other paths still written. Returns false if any failed.</summary>
    public static bool WriteAll(IReadOnlyList<string> paths, int exitCode)
    {
        byte[] text = Encoding.ASCII.GetBytes(exitCode.ToString(CultureInfo.InvariantCulture));
        bool ok = true;
        foreach (string path in paths)
        {
            try { AtomicFile.Write(path, text, fsync: true); }
            catch (Exception e) when (e is SyscallException or IOException)
            {
                Log.Error($"could not write exit file {path}: {ErrorText.Describe(e)}");
                ok = false;
            }
        }
        return ok;
    }
}
