using static TorchSharp.torch;

namespace Superalign;

/// <summary>Device comparisons (TorchSharp's <see cref="Device"/> compares by reference).</summary>
internal static class DeviceExtensions
{
    /// <summary>Whether <paramref name="tensor"/> lives on <paramref name="device"/>.</summary>
    public static bool IsOn(this Tensor tensor, Device device) =>
        tensor.device_type == device.type && (tensor.device_index == device.index || device.index < 0 && tensor.device_index <= 0);
}
