using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Podmon.Tests;

/// <summary>
/// The binary binds "libc" and "podmonnative" at link time; under the JIT test host they are
/// resolved here: glibc's soname, and the C helper built as a shared library next to the tests.
/// </summary>
static class NativeResolver
{
    [ModuleInitializer]
    internal static void Init()
    {
        NativeLibrary.SetDllImportResolver(typeof(Podmon.Sys.Libc).Assembly, Resolve);
    }

    static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path) => name switch
    {
        "libc" => NativeLibrary.Load("libc.so.6"),
        "podmonnative" => NativeLibrary.Load(Path.Combine(AppContext.BaseDirectory, "libpodmonnative.so")),
        _ => 0,
    };
}
