using System.Reflection;
using System.Runtime.InteropServices;

namespace Podmon.Testing;

/// <summary>
/// The binary binds "libc" and "podmonnative" at link time; under the JIT test host they are
/// resolved here: glibc's soname, and the C helper built as a shared library (copied next to the
/// test binaries with this project). Each test project installs it from a module initializer.
/// </summary>
public static class NativeResolver
{
    static int _installed;

    /// <summary>The pod watchdog's executable, copied next to the test binaries with the C helper.</summary>
    public static string WatchdogPath => Path.Combine(AppContext.BaseDirectory, "podmon-watchdog");

    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(Podmon.Sys.Libc).Assembly, Resolve);
    }

    static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path) => name switch
    {
        "libc" => NativeLibrary.Load("libc.so.6"),
        "podmonnative" => NativeLibrary.Load(Path.Combine(AppContext.BaseDirectory, "libpodmonnative.so")),
        _ => 0,
    };
}
