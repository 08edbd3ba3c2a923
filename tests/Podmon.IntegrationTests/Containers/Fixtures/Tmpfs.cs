namespace Podmon.IntegrationTests.Containers.Fixtures;

/// <summary>A tiny tmpfs of its own (a disk that can be filled in a moment), unmounted on dispose.</summary>
public sealed class Tmpfs : IDisposable
{
    public string Path { get; }

    public Tmpfs(string parent, string size)
    {
        Path = System.IO.Path.Combine(parent, $"tmpfs-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
        Host.Check("/usr/bin/mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", Path);
    }

    /// <summary>Fills every free byte with one file; returns its path.</summary>
    public string Fill()
    {
        string filler = System.IO.Path.Combine(Path, "filler");
        using var f = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        byte[] block = new byte[4096];
        try
        {
            while (true) f.Write(block);
        }
        catch (IOException) { } // ENOSPC: the disk is full
        // Single bytes use the last partial page, so not one byte is left for anyone.
        try
        {
            while (true) f.Write(block, 0, 1);
        }
        catch (IOException) { }
        return filler;
    }

    public void Dispose()
    {
        Host.Run("/usr/bin/umount", "-l", Path);
        try { Directory.Delete(Path); } catch (IOException) { }
    }
}
