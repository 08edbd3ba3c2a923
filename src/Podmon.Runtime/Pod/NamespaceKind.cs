namespace Podmon.Pod;

/// <summary>
/// The namespaces a pod can pin. The declaration order is the order conmon-rs answers
/// createNamespaces in (its Namespace::iter()) and the kind index of native/pause.c.
/// </summary>
public enum NamespaceKind { Ipc, Pid, Net, User, Uts }

public static class NamespaceKinds
{
    public static readonly NamespaceKind[] All = [NamespaceKind.Ipc, NamespaceKind.Pid, NamespaceKind.Net, NamespaceKind.User, NamespaceKind.Uts];

    /// <summary>The kernel's name (/proc/PID/ns/NAME) and the pause flag (--NAME).</summary>
    public static string Name(NamespaceKind kind) => kind switch
    {
        NamespaceKind.Ipc => "ipc",
        NamespaceKind.Pid => "pid",
        NamespaceKind.Net => "net",
        NamespaceKind.User => "user",
        _ => "uts",
    };
}
