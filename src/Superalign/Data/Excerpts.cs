namespace Superalign.Data;

/// <summary>Bounded quotations of user data for error messages: a 1 MB field must not become a 1 MB message.</summary>
internal static class Excerpts
{
    /// <summary>The longest quotation, in characters, before it is cut.</summary>
    public const int DefaultLength = 60;

    /// <summary>
    /// <paramref name="text"/> if it has at most <paramref name="max"/> characters, else its first characters, "…" and its
    /// length; control characters are shown as <c>\uXXXX</c> escapes and a surrogate pair is never cut in half.
    /// </summary>
    public static string Of(string text, int max = DefaultLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        bool cut = text.Length > max;
        int take = cut ? max : text.Length;
        if (cut && take > 0 && char.IsHighSurrogate(text[take - 1])) take--;
        var shown = new System.Text.StringBuilder(take + 32);
        AppendRange(shown, text, 0, take);
        if (cut) shown.Append($"… ({text.Length:N0} characters)");
        return shown.ToString();
    }

    /// <summary>
    /// The characters of <paramref name="text"/> around <paramref name="position"/> (at most <paramref name="radius"/>
    /// either side), with "…" where it was cut.
    /// </summary>
    public static string Around(string text, int position, int radius = DefaultLength / 2)
    {
        ArgumentNullException.ThrowIfNull(text);
        int start = Math.Max(0, position - radius), end = Math.Min(text.Length, position + radius + 1);
        var shown = new System.Text.StringBuilder(end - start + 16);
        if (start > 0) shown.Append('…');
        AppendRange(shown, text, start, end);
        if (end < text.Length) shown.Append('…');
        return shown.ToString();
    }

    /// <summary>Names such as header columns: at most <paramref name="count"/> of them, each bounded, and how many in all.</summary>
    public static string List(IReadOnlyList<string> names, int count = 10)
    {
        ArgumentNullException.ThrowIfNull(names);
        var shown = string.Join(", ", names.Take(count).Select(n => Of(n, 40)));
        return names.Count > count ? $"{shown}, … ({names.Count:N0} in all)" : shown;
    }

    private static void AppendRange(System.Text.StringBuilder shown, string text, int start, int end)
    {
        for (int i = start; i < end; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < end && char.IsLowSurrogate(text[i + 1]))
            {
                shown.Append(text, i++, 2);
                continue;
            }
            shown.Append(Char(text[i]));
        }
    }

    /// <summary>A character as shown in messages: control characters and lone surrogates as <c>\uXXXX</c>.</summary>
    public static string Char(char c) => char.IsControl(c) || char.IsSurrogate(c) ? $"\\u{(int)c:x4}" : c.ToString();
}
