using System.Runtime.CompilerServices;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Podmon.Tests;

static class ModuleSetup
{
    /// <summary>Before any test: libc and the C helper resolved for the JIT (see <see cref="NativeResolver"/>).</summary>
    [ModuleInitializer]
    internal static void Init() => NativeResolver.Install();
}
