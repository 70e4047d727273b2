using System.IO.Compression;
using System.Text;

namespace Superalign.Samples.Tests;

/// <summary>
/// A minimal PNG reader written independently of the encoder under test: it checks the signature and every chunk's CRC
/// (bitwise CRC-32, no table), accepts only 8-bit RGBA, non-interlaced, filter type 0 rows, and returns the pixels.
/// </summary>
internal sealed record DecodedPng(int Width, int Height, byte[] Rgba)
{
    public (byte R, byte G, byte B, byte A) this[int x, int y]
    {
        get { int i = (y * Width + x) * 4; return (Rgba[i], Rgba[i + 1], Rgba[i + 2], Rgba[i + 3]); }
    }

    public static DecodedPng Read(string path) => Decode(File.ReadAllBytes(path));

    public static DecodedPng Decode(byte[] png)
    {
        byte[] signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (!png.AsSpan(0, 8).SequenceEqual(signature)) throw new InvalidDataException("bad signature");
        int pos = 8, width = -1, height = -1;
        var idat = new MemoryStream();
        var types = new List<string>();
        while (pos < png.Length)
        {
            int length = (int)ReadU32(png, pos);
            string type = Encoding.ASCII.GetString(png, pos + 4, 4);
            byte[] data = png[(pos + 8)..(pos + 8 + length)];
            uint crc = ReadU32(png, pos + 8 + length);
            if (crc != BitwiseCrc(png.AsSpan(pos + 4, 4 + length))) throw new InvalidDataException($"CRC mismatch in {type}");
            types.Add(type);
            if (type == "IHDR")
            {
                width = (int)ReadU32(data, 0);
                height = (int)ReadU32(data, 4);
                if (data[8] != 8 || data[9] != 6 || data[10] != 0 || data[11] != 0 || data[12] != 0)
                    throw new InvalidDataException("only 8-bit RGBA non-interlaced is expected");
            }
            else if (type == "IDAT") idat.Write(data);
            pos += 12 + length;
        }
        if (types.Count < 3 || types[0] != "IHDR" || types[^1] != "IEND" || !types.Contains("IDAT"))
            throw new InvalidDataException("chunk order: " + string.Join(",", types));

        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(inflated);
        byte[] raw = inflated.ToArray();
        int stride = width * 4;
        if (raw.Length != height * (stride + 1)) throw new InvalidDataException("wrong image data size");
        var rgba = new byte[height * stride];
        for (int y = 0; y < height; y++)
        {
            if (raw[y * (stride + 1)] != 0) throw new InvalidDataException($"row {y}: filter type {raw[y * (stride + 1)]}");
            Array.Copy(raw, y * (stride + 1) + 1, rgba, y * stride, stride);
        }
        return new DecodedPng(width, height, rgba);
    }

    private static uint ReadU32(byte[] b, int at) => (uint)(b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]);

    /// <summary>CRC-32 bit by bit (reflected polynomial 0xEDB88320), as the PNG specification's sample code.</summary>
    internal static uint BitwiseCrc(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320 & (uint)-(int)(c & 1));
        }
        return ~c;
    }
}
