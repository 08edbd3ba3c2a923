using System.Globalization;
using System.Text;
using Podmon.Logging;

namespace Podmon.Streaming;

/// <summary>
/// The error channel (3) at the end of an exec or attach, in the kubelet's shapes: v4 and v5 get
/// a metav1.Status as JSON (Success, or Failure with the exit code as its cause); the older
/// protocols get a plain message, and nothing on success.
/// </summary>
static class StatusMessage
{
    public const int Channel = 3;

    public static void SendExit(StreamConnection c, int exitCode)
    {
        if (exitCode == 0)
        {
            if (c.Version >= 4) c.Send(Channel, """{"metadata":{},"status":"Success"}"""u8);
            return;
        }
        string code = exitCode.ToString(CultureInfo.InvariantCulture);
        string message = $"command terminated with non-zero exit code: error executing command in container: process exited with status {code}";
        if (c.Version < 4)
        {
            c.Send(Channel, Encoding.UTF8.GetBytes(message));
            return;
        }
        c.Send(Channel, Encoding.UTF8.GetBytes(
            "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"" + message +
            "\",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"" + code + "\"}]}}"));
    }

    /// <summary>The session could not run (the container is gone, the runtime failed): the kubelet's InternalError.</summary>
    public static void SendError(StreamConnection c, string message)
    {
        if (c.Version < 4)
        {
            c.Send(Channel, Encoding.UTF8.GetBytes(message));
            return;
        }
        string m = JsonEscape.Quote(message);
        c.Send(Channel, Encoding.UTF8.GetBytes(
            "{\"metadata\":{},\"status\":\"Failure\",\"message\":" + m +
            ",\"reason\":\"InternalError\",\"details\":{\"causes\":[{\"message\":" + m + "}]},\"code\":500}"));
    }
}
