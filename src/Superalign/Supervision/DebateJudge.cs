using MathNet.Numerics.Random;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Supervision;

/// <summary>How much help a weak judge gets before it decides (Irving et al. 2018; Michael et al. 2023).</summary>
public enum OversightMode
{
    /// <summary>The judge sees <c>k</c> features chosen at random and decides alone.</summary>
    NoHelp,

    /// <summary>
    /// One consultant, assigned the true class for half of the examples and the strong model's most probable wrong
    /// class otherwise (a fair coin per example), reveals all <c>k</c> features to argue for its assignment.
    /// </summary>
    Consultancy,

    /// <summary>
    /// Two debaters reveal <c>k</c> features in turn: one argues for the strong model's answer, the other for the
    /// strong model's runner-up class. The one arguing the strong model's answer opens on even rows, the other on odd
    /// rows.
    /// </summary>
    Debate,
}

/// <summary>Options of a <see cref="DebateJudge"/>; validated at construction.</summary>
/// <param name="Mode">The help the judge gets.</param>
/// <param name="Reveals">Features revealed to the judge in total, <c>k</c> (at least 1, at most the number of features).</param>
/// <param name="Seed">Seed of the random choices (the consultant's assignment, the no-help reveals).</param>
public sealed record DebateJudgeOptions(OversightMode Mode = OversightMode.Debate, int Reveals = 4, int Seed = 0)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of its range.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Mode))
            throw new ArgumentOutOfRangeException(nameof(Mode), Mode, $"{nameof(DebateJudgeOptions)}.{nameof(Mode)} must be one of {string.Join(", ", Enum.GetNames<OversightMode>())}.");
        if (Reveals < 1)
            throw new ArgumentOutOfRangeException(nameof(Reveals), Reveals, $"{nameof(DebateJudgeOptions)}.{nameof(Reveals)} must be at least 1; got {Reveals}.");
    }
}

/// <summary>
/// What happened in a batch of oversight sessions. Its tensors belong to the caller (and its dispose scope).
/// </summary>
/// <param name="Mode">The help the judge had.</param>
/// <param name="Probabilities">The judge's class probabilities after the session, <c>[B, C]</c>.</param>
/// <param name="Revealed">The features the judge saw, <c>[B, D]</c> (float 0/1).</param>
/// <param name="RevealOrder">Which feature was revealed at each turn, <c>[B, k]</c> (int64).</param>
/// <param name="Claims">
/// The class argued for, <c>[B]</c>: the consultant's assignment (consultancy), the strong model's answer (debate), or
/// null (no help).
/// </param>
/// <param name="OpposingClaims">The class the second debater argued for, <c>[B]</c> (debate), or null.</param>
public sealed record OversightSession(OversightMode Mode, Tensor Probabilities, Tensor Revealed, Tensor RevealOrder, Tensor? Claims, Tensor? OpposingClaims)
{
    /// <summary>The judge's verdicts: the most probable class of each row, <c>[B]</c>.</summary>
    public Tensor Verdicts() => Probabilities.argmax(1);
}

/// <summary>
/// A weak judge assisted by strong debaters, as a label supervisor: sandwiching by debate. The judge (a classifier
/// that reads only <c>k</c> revealed features, <see cref="RevealEncoding"/>) labels an example after no help, one
/// consultant, or a debate between two debaters who see every feature (<see cref="OversightMode"/>); its class
/// probabilities after the session are the soft labels, so a debate can supervise a student.
/// </summary>
/// <remarks>
/// <para>The strong model (<c>expert</c>, a classifier over all <c>D</c> features) decides what the debaters argue:
/// its most probable class and its runner-up in a debate; in consultancy, the consultant argues for the true class or
/// for the strong model's most probable other class. The debaters (default: <see cref="GreedyDebater"/> on the
/// judge) choose which features to reveal. Ground truth is needed only for consultancy: pass it to
/// <see cref="Session"/> or as a labeling rule.</para>
/// <para>Judge and expert run without gradients in evaluation mode (their modes are restored). Random choices
/// (consultant assignments, no-help reveals) come from seeded streams on the CPU that successive calls continue;
/// <see cref="Reset"/> restarts them. Not thread-safe. The supervisor owns none of the models.</para>
/// </remarks>
public sealed class DebateJudge : ILabelSupervisor
{
    private readonly Func<Tensor, Tensor>? _groundTruth;
    private readonly RandomRevealer _revealer;
    private Xoshiro256StarStar _coins;

    /// <summary>A judge with its strong helpers.</summary>
    /// <param name="judge">The weak judge: a classifier over <c>[masked features ‖ mask]</c>, input width <c>2D</c>.</param>
    /// <param name="expert">The strong model over all <c>D</c> features (same classes as the judge).</param>
    /// <param name="options">Mode, number of reveals and seed (defaults when null); validated here.</param>
    /// <param name="groundTruth">True class ids <c>[B]</c> for features <c>[B, D]</c>; used by consultancy when <see cref="Session"/> gets no labels.</param>
    /// <param name="debater">The consultant, and the debater for the strong model's answer; null = <see cref="GreedyDebater"/> on the judge.</param>
    /// <param name="opponent">The debater for the runner-up class; null = the same debater as <paramref name="debater"/>.</param>
    /// <param name="name">Name used in reports; null derives one from the mode.</param>
    /// <exception cref="ArgumentException">The judge and the expert do not fit together.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public DebateJudge(IClassifierStudent judge, IClassifierStudent expert, DebateJudgeOptions? options = null,
        Func<Tensor, Tensor>? groundTruth = null, IDebater? debater = null, IDebater? opponent = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(expert);
        Options = options ?? new DebateJudgeOptions();
        Options.Validate();
        if (judge.InputFeatures != RevealEncoding.Width(expert.InputFeatures))
            throw new ArgumentException(
                $"The judge must read [masked features ‖ mask] of width 2 × {expert.InputFeatures} = {2 * expert.InputFeatures} (the expert's features); its width is {judge.InputFeatures}.", nameof(judge));
        if (judge.Classes != expert.Classes)
            throw new ArgumentException($"The judge has {judge.Classes} classes and the expert {expert.Classes}.", nameof(expert));
        if (Options.Reveals > expert.InputFeatures)
            throw new ArgumentOutOfRangeException(nameof(DebateJudgeOptions.Reveals), Options.Reveals,
                $"{nameof(DebateJudgeOptions)}.{nameof(DebateJudgeOptions.Reveals)} must be at most the number of features ({expert.InputFeatures}); got {Options.Reveals}.");
        Judge = judge;
        Expert = expert;
        _groundTruth = groundTruth;
        Debater = debater ?? new GreedyDebater(judge);
        Opponent = opponent ?? Debater;
        _revealer = new RandomRevealer(Options.Seed);
        _coins = new Xoshiro256StarStar(Options.Seed);
        Name = name ?? $"judge[{Options.Mode}, k={Options.Reveals}]({judge.Name})";
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The options in force.</summary>
    public DebateJudgeOptions Options { get; }

    /// <summary>The weak judge.</summary>
    public IClassifierStudent Judge { get; }

    /// <summary>The strong model whose answers the debaters argue.</summary>
    public IClassifierStudent Expert { get; }

    /// <summary>The consultant, and the debater for the strong model's answer.</summary>
    public IDebater Debater { get; }

    /// <summary>The debater for the runner-up class.</summary>
    public IDebater Opponent { get; }

    /// <summary>Number of features <c>D</c>.</summary>
    public int Features => Expert.InputFeatures;

    /// <summary>Restarts the random streams: the next call draws what the first call drew.</summary>
    public void Reset()
    {
        _revealer.Reset();
        _coins = new Xoshiro256StarStar(Options.Seed);
    }

    /// <summary>The judge's class probabilities <c>[B, C]</c> after a session in <see cref="DebateJudgeOptions.Mode"/>, on the features' device.</summary>
    /// <param name="features">Features <c>[B, D]</c>.</param>
    /// <exception cref="InvalidOperationException">Consultancy without a ground-truth rule.</exception>
    public Tensor Label(Tensor features)
    {
        using var scope = NewDisposeScope();
        return Session(features).Probabilities.MoveToOuterDisposeScope();
    }

    /// <summary>Runs one session per row of <paramref name="features"/> in <see cref="DebateJudgeOptions.Mode"/>.</summary>
    /// <param name="features">Features <c>[B, D]</c>.</param>
    /// <param name="labels">True classes <c>[B]</c> for consultancy (else the ground-truth rule is used); ignored by the other modes.</param>
    /// <returns>The session's record, its tensors on the features' device.</returns>
    /// <exception cref="ArgumentException">Shapes disagree.</exception>
    /// <exception cref="InvalidOperationException">Consultancy without labels or a ground-truth rule, or a debater chose a revealed or out-of-range feature.</exception>
    public OversightSession Session(Tensor features, Tensor? labels = null)
    {
        SupervisionCheck.Features(features, nameof(features), Features);
        long b = features.shape[0];
        if (labels is not null && (labels.dim() != 1 || labels.shape[0] != b || labels.is_floating_point()))
            throw new ArgumentException($"labels must hold integer class ids [{b}]; got {labels.dtype} [{string.Join(", ", labels.shape)}].", nameof(labels));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var judgeMode = EvaluationMode.Enter(Judge);
        using var expertMode = EvaluationMode.Enter(Expert);
        var device = Judge.Device;
        var x = features.to(device).to_type(ScalarType.Float32);
        var revealed = zeros(new long[] { b, Features }, dtype: ScalarType.Float32, device: device);
        var order = new List<Tensor>(Options.Reveals);
        Tensor? claims = null, opposing = null;

        switch (Options.Mode)
        {
            case OversightMode.NoHelp:
            {
                var none = zeros(new long[] { b }, dtype: ScalarType.Int64, device: device);
                for (int t = 0; t < Options.Reveals; t++) Reveal(_revealer, _revealer.Choose(x, revealed, none), revealed, order);
                break;
            }
            case OversightMode.Consultancy:
            {
                var truth = Truth(x, labels);
                var expertLogits = ExpertLogits(x);
                var wrong = expertLogits.scatter(1, truth.unsqueeze(1), full(new long[] { b, 1 }, float.NegativeInfinity, device: device)).argmax(1);
                var honest = new bool[b];
                for (long i = 0; i < b; i++) honest[i] = _coins.NextDouble() < 0.5;
                claims = where(tensor(honest, device: device), truth, wrong);
                for (int t = 0; t < Options.Reveals; t++) Reveal(Debater, Debater.Choose(x, revealed, claims), revealed, order);
                break;
            }
            default:
            {
                var (_, top) = ExpertLogits(x).topk(2, dim: 1);
                claims = top.select(1, 0).contiguous();
                opposing = top.select(1, 1).contiguous();
                var parity = arange(b, dtype: ScalarType.Int64, device: device).remainder(2);
                for (int t = 0; t < Options.Reveals; t++)
                {
                    var firstMoves = parity.eq(t % 2);   // the debater for the strong answer moves on rows where (row + t) is even
                    if (ReferenceEquals(Debater, Opponent))
                    {
                        Reveal(Debater, Debater.Choose(x, revealed, where(firstMoves, claims, opposing)), revealed, order);
                    }
                    else
                    {
                        var a = Checked(Debater, Debater.Choose(x, revealed, claims), revealed);
                        var o = Checked(Opponent, Opponent.Choose(x, revealed, opposing), revealed);
                        Reveal(Debater, where(firstMoves, a, o), revealed, order);
                    }
                }
                break;
            }
        }

        var probabilities = Judge.ClassLogits(RevealEncoding.EncodeUnchecked(x, revealed)).softmax(1);
        var home = features.device;
        return new OversightSession(Options.Mode,
            probabilities.to(home).MoveToOuterDisposeScope(),
            revealed.to(home).MoveToOuterDisposeScope(),
            stack(order, 1).to(home).MoveToOuterDisposeScope(),
            claims?.to(home).MoveToOuterDisposeScope(),
            opposing?.to(home).MoveToOuterDisposeScope());
    }

    private Tensor ExpertLogits(Tensor x) => Expert.ClassLogits(x.to(Expert.Device)).to(x.device);

    private Tensor Truth(Tensor x, Tensor? labels)
    {
        var truth = labels ?? _groundTruth?.Invoke(x)
            ?? throw new InvalidOperationException("Consultancy needs the true classes: pass labels to Session or a groundTruth rule to the constructor.");
        truth = truth.to(x.device).to_type(ScalarType.Int64);
        if (truth.dim() != 1 || truth.shape[0] != x.shape[0])
            throw new InvalidOperationException($"The ground truth must be class ids [{x.shape[0]}]; got [{string.Join(", ", truth.shape)}].");
        return truth;
    }

    /// <summary>Reveals the chosen feature of every row (after checking the choice) and records it.</summary>
    private void Reveal(IDebater who, Tensor choice, Tensor revealed, List<Tensor> order)
    {
        var index = Checked(who, choice, revealed);
        revealed.scatter_(1, index.unsqueeze(1), ones(new long[] { revealed.shape[0], 1 }, dtype: ScalarType.Float32, device: revealed.device));
        order.Add(index);
    }

    /// <summary>The choice as int64 ids on the session's device, after checking that it names one hidden feature per row.</summary>
    private Tensor Checked(IDebater who, Tensor choice, Tensor revealed)
    {
        ArgumentNullException.ThrowIfNull(choice);
        var index = choice.to(revealed.device).to_type(ScalarType.Int64);
        long b = revealed.shape[0];
        if (index.dim() != 1 || index.shape[0] != b)
            throw new InvalidOperationException($"The debater {who.Name} must choose one feature per row, shape [{b}]; got [{string.Join(", ", index.shape)}].");
        if (b == 0) return index;
        if (index.min().ToInt64() < 0 || index.max().ToInt64() >= Features)
            throw new InvalidOperationException($"The debater {who.Name} chose a feature outside [0, {Features}).");
        if (revealed.gather(1, index.unsqueeze(1)).gt(0.5).any().ToBoolean())
            throw new InvalidOperationException($"The debater {who.Name} chose a feature that was already revealed.");
        return index;
    }
}
