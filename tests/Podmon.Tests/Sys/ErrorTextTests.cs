using Podmon.Sys;

namespace Podmon.Tests.Sys;

/// <summary>The published binary has no resource strings: the runtime's keyed messages must still reach users as sentences.</summary>
public class ErrorTextTests
{
    [Fact]
    public void A_keyed_file_error_becomes_path_and_errno_text()
    {
        Assert.Equal("'/x/pidfile': No such file or directory (ENOENT)",
            ErrorText.Describe(new DirectoryNotFoundException("IO_PathNotFound_Path, /x/pidfile")));
        Assert.Equal("'/x/y': No such file or directory (ENOENT)",
            ErrorText.Describe(new FileNotFoundException("IO_FileNotFound_FileName, /x/y", "/x/y")));
        Assert.Equal("'/root/z': Permission denied (EACCES)",
            ErrorText.Describe(new UnauthorizedAccessException("UnauthorizedAccess_IODenied_Path, /root/z")));
        Assert.Equal("'/a': File exists (EEXIST)", ErrorText.Describe(new IOException("IO_FileExists_Name, /a", Errno.EEXIST)));
    }

    [Fact]
    public void A_keyed_message_without_errno_names_its_words_and_type()
    {
        Assert.Equal("invalid operation (InvalidOperationException)",
            ErrorText.Describe(new InvalidOperationException("InvalidOperation_EnumFailedVersion")));
        Assert.Equal("'7': arg out of range (ArgumentOutOfRangeException)",
            ErrorText.Describe(new ArgumentOutOfRangeException(null, "ArgOutOfRange_NeedNonNegNum, 7")));
    }

    [Fact]
    public void Sentences_pass_through()
    {
        Assert.Equal("open log file '/x': No such file or directory (ENOENT)",
            ErrorText.Describe(new SyscallException("open log file", Errno.ENOENT, "'/x'")));
        Assert.Equal("Not a directory : '/etc/passwd/x'", ErrorText.Describe(new IOException("Not a directory : '/etc/passwd/x'", 20)));
        Assert.Equal("container c1 already exists in this pod", ErrorText.Describe(new Exception("container c1 already exists in this pod")));
    }
}
