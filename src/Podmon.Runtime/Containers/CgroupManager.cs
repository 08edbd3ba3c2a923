namespace Podmon.Containers;

/// <summary>How the runtime places containers in cgroups: through systemd (--systemd-cgroup) or cgroupfs paths.</summary>
public enum CgroupManager { Systemd, Cgroupfs }
