using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// Checks a training batch against the student it is given to, so that bad input is reported as an
/// <see cref="InvalidBatchException"/> naming the field, the offending value, its index and the allowed range, instead
/// of reaching native code (which fails with a C++ message, or silently misreads it). The optimizers run these checks
/// on every batch before the forward pass, so a rejected batch leaves the parameters and the optimizer state as they
/// were.
/// </summary>
/// <remarks>
/// <para><b>What is checked.</b> For every student: the batch has rows; mask values lie in [0, 1]; at least one
/// position is scored (competence: in the batch; preference: in every chosen and every rejected response); targets
/// at scored positions are ≥ 0; soft targets are finite and ≥ 0 with one row per example (and position), and cached
/// reference log-probs are finite. For an <see cref="IClassifierStudent"/> also: inputs are <c>[B, InputFeatures]</c>
/// in the dtype of the student's parameters, targets are <c>[B, 1]</c> class ids below <c>Classes</c>, soft targets
/// have <c>Classes</c> columns. For an <see cref="ILanguageModelStudent"/>: inputs are int64 <c>[B, L]</c> token ids
/// below <c>VocabularySize</c> with <c>1 ≤ L ≤ MaxSequenceLength</c>, targets are <c>[B, L]</c> with scored ids below
/// <c>VocabularySize</c>, soft targets have <c>VocabularySize</c> entries. For any other student the optimizers check
/// the scored targets against the width of the logits after the forward pass, before they are read.</para>
/// <para><b>Targets at masked positions, and −100.</b> Positions are selected by <see cref="ResponseBatch.Mask"/>
/// alone: targets at masked positions may hold any value (padding) and are never read. PyTorch's cross-entropy and
/// TRL's data collators use the label −100 (<see cref="IgnoreIndex"/>) to mean "not scored"; Superalign does not, because
/// the mask already says it and a −100 label would otherwise be skipped by one loss and read as log p = 0 by another. A
/// −100 at a scored position is therefore rejected, with a message that says to set the mask to 0 there instead.</para>
/// <para>The checks cost a handful of reductions and one device-to-host copy per batch; the slower search for the
/// offending index runs only when a check fails.</para>
/// </remarks>
public static class BatchCheck
{
    /// <summary>
    /// The label PyTorch's <c>cross_entropy</c> and TRL's collators treat as "ignore this position". Rejected at scored
    /// positions (leave a position out with the mask instead); allowed, like any value, at masked positions.
    /// </summary>
    public const long IgnoreIndex = -100;

    /// <summary>Checks a competence batch against <paramref name="student"/> (on the student's device).</summary>
    /// <param name="student">The student the batch is for.</param>
    /// <param name="batch">The batch.</param>
    /// <exception cref="InvalidBatchException">The batch does not fit the student; the message names the field, value, index and allowed range.</exception>
    /// <exception cref="ArgumentException">The soft targets do not match the responses in size (<see cref="SupervisedBatch.Validate"/>).</exception>
    public static void Competence(IStudent student, SupervisedBatch batch)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        CheckCompetence(student, batch.To(student.Device));
    }

    /// <summary>Checks a preference batch against <paramref name="student"/> (on the student's device).</summary>
    /// <param name="student">The student the batch is for.</param>
    /// <param name="batch">The batch.</param>
    /// <exception cref="InvalidBatchException">The batch does not fit the student; the message names the field, value, index and allowed range.</exception>
    /// <exception cref="ArgumentException">The two sides or the cached reference disagree in size (<see cref="PreferenceBatch.Validate"/>).</exception>
    public static void Preference(IStudent student, PreferenceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        CheckPreference(student, batch.To(student.Device));
    }

    /// <summary>
    /// Checks a competence batch already on the student's device; returns an upper bound of the targets at scored
    /// positions (for <see cref="TargetsBelow"/> once the logits give the vocabulary of a student that does not declare it).
    /// </summary>
    internal static long CheckCompetence(IStudent student, SupervisedBatch batch)
    {
        batch.Validate();
        var expect = Expectation.Of(student);
        var scalars = new Scalars();
        var responses = ResponseProbe.Start(expect, batch.Responses, "competence batch ", scalars, perRow: false, inputsChecked: false);
        var soft = batch.SoftTargets is { } s ? SoftProbe.Start(expect, s, "competence batch SoftTargets", scalars) : null;
        scalars.Fetch();
        responses.Verify(scalars);
        soft?.Verify(scalars);
        return responses.MaxScoredTarget(scalars);
    }

    /// <summary>
    /// Checks a preference batch already on the student's device; returns upper bounds of the targets at scored
    /// positions of both sides (for <see cref="TargetsBelow"/>).
    /// </summary>
    internal static (long Chosen, long Rejected) CheckPreference(IStudent student, PreferenceBatch batch)
    {
        batch.Validate();
        var expect = Expectation.Of(student);
        var scalars = new Scalars();
        var chosen = ResponseProbe.Start(expect, batch.Chosen, "preference batch Chosen.", scalars, perRow: true, inputsChecked: false);
        var rejected = ResponseProbe.Start(expect, batch.Rejected, "preference batch Rejected.", scalars, perRow: true, inputsChecked: batch.SharesInputs);
        var referenceChosen = batch.ReferenceChosen is { } rc ? new FiniteProbe(rc, "preference batch ReferenceChosen", scalars) : null;
        var referenceRejected = batch.ReferenceRejected is { } rr ? new FiniteProbe(rr, "preference batch ReferenceRejected", scalars) : null;
        scalars.Fetch();
        chosen.Verify(scalars);
        rejected.Verify(scalars);
        referenceChosen?.Verify(scalars);
        referenceRejected?.Verify(scalars);
        return (chosen.MaxScoredTarget(scalars), rejected.MaxScoredTarget(scalars));
    }

    /// <summary>
    /// Throws unless every scored target of <paramref name="batch"/> is below <paramref name="vocabulary"/> (the width
    /// of the logits); <paramref name="maxScoredTarget"/> is the bound the check before the forward pass found. No device
    /// work unless that bound is not below the vocabulary.
    /// </summary>
    internal static void TargetsBelow(ResponseBatch batch, string field, long maxScoredTarget, long vocabulary)
    {
        if (maxScoredTarget < vocabulary) return;
        using var scope = NewDisposeScope();
        var bad = (batch.Mask != 0).logical_and(batch.Targets >= vocabulary);
        if (!bad.any().item<bool>()) return; // only masked positions hold such ids
        var at = FirstIndex(bad);
        long value = batch.Targets[at[0], at[1]].item<long>();
        throw new InvalidBatchException(field + "Targets",
            $"{field}Targets[{at[0]}, {at[1]}] = {value} is out of range: ids at scored positions must be in [0, {vocabulary - 1}], " +
            $"the {vocabulary} entries of the logits the student returned.");
    }

    /// <summary>What the student tells about the batches it reads.</summary>
    private sealed record Expectation(string Student, long? Vocabulary, string VocabularyName, string IdKind, long? Features, ScalarType? FeatureDtype, long? MaxLength, bool Tokens)
    {
        public static Expectation Of(IStudent student)
        {
            ArgumentNullException.ThrowIfNull(student);
            return student switch
            {
                IClassifierStudent c => new(student.Name, c.Classes, nameof(IClassifierStudent.Classes), "class", c.InputFeatures,
                    student.Parameters().FirstOrDefault(p => p.is_floating_point())?.dtype, null, false),
                ILanguageModelStudent lm => new(student.Name, lm.VocabularySize, nameof(ILanguageModelStudent.VocabularySize), "token", null, null, lm.MaxSequenceLength, true),
                _ => new(student.Name, null, "", "target", null, null, null, false),
            };
        }
    }

    /// <summary>
    /// Scalars computed on the device and read back to the host in one copy. They are stacked per dtype and converted
    /// to float64 once per dtype (int64 ids up to 2^53 are exact): on small models every tensor call is a visible share
    /// of a step.
    /// </summary>
    private sealed class Scalars
    {
        private readonly List<(ScalarType DType, int Position)> _handles = new();
        private readonly Dictionary<ScalarType, List<Tensor>> _groups = new();
        private double[] _values = Array.Empty<double>();
        private int[] _offsets = Array.Empty<int>();
        private ScalarType[] _order = Array.Empty<ScalarType>();

        public int Add(Tensor scalar)
        {
            if (!_groups.TryGetValue(scalar.dtype, out var group)) _groups[scalar.dtype] = group = new List<Tensor>();
            group.Add(scalar);
            _handles.Add((scalar.dtype, group.Count - 1));
            return _handles.Count - 1;
        }

        /// <summary>Queues the minimum and the maximum of <paramref name="values"/> (NaN when it holds a NaN).</summary>
        public (int Min, int Max) AddMinMax(Tensor values)
        {
            var (min, max) = values.aminmax();
            return (Add(min), Add(max));
        }

        public void Fetch()
        {
            if (_handles.Count == 0) return;
            _order = _groups.Keys.ToArray();
            _offsets = new int[_order.Length];
            var parts = new Tensor[_order.Length];
            for (int g = 0, offset = 0; g < _order.Length; g++)
            {
                var group = stack(_groups[_order[g]]);
                parts[g] = group.dtype == ScalarType.Float64 ? group : group.to_type(ScalarType.Float64);
                _offsets[g] = offset;
                offset += _groups[_order[g]].Count;
            }
            using var host = (parts.Length == 1 ? parts[0] : cat(parts)).cpu();
            _values = host.data<double>().ToArray();
        }

        public double this[int handle]
        {
            get
            {
                var (dtype, position) = _handles[handle];
                return _values[_offsets[Array.IndexOf(_order, dtype)] + position];
            }
        }
    }

    /// <summary>The checks of one response batch: shape and dtype on the host, value ranges through <see cref="Scalars"/>.</summary>
    private sealed class ResponseProbe
    {
        private readonly Expectation _expect;
        private readonly ResponseBatch _batch;
        private readonly string _field;
        private readonly bool _perRow;
        private readonly int _targetMin, _targetMax, _maskMin, _maskMax, _rowMin = -1, _inputMin = -1, _inputMax = -1;

        private ResponseProbe(Expectation expect, ResponseBatch batch, string field, Scalars scalars, bool perRow, bool inputsChecked)
        {
            (_expect, _batch, _field, _perRow) = (expect, batch, field, perRow);
            // Over all positions: when these are in range so are the scored ones (the usual case, one reduction);
            // otherwise Verify looks at the scored positions alone, as masked ones may hold anything.
            (_targetMin, _targetMax) = scalars.AddMinMax(batch.Targets);
            (_maskMin, _maskMax) = scalars.AddMinMax(batch.Mask);
            // A row's largest mask value; with one position per row (classifiers) that is the mask's minimum, already queued.
            if (perRow) _rowMin = batch.Mask.shape[1] == 1 ? _maskMin : scalars.Add(batch.Mask.amax(1).min());
            if (expect.Tokens && !inputsChecked) (_inputMin, _inputMax) = scalars.AddMinMax(batch.Inputs);
        }

        /// <summary>Runs the host checks (throwing at the first failure) and queues the value checks.</summary>
        public static ResponseProbe Start(Expectation expect, ResponseBatch batch, string field, Scalars scalars, bool perRow, bool inputsChecked)
        {
            var inputs = batch.Inputs;
            var targets = batch.Targets;
            if (batch.Count == 0)
                throw new InvalidBatchException(field.TrimEnd('.', ' '), $"{field.TrimEnd('.', ' ')} has no rows: a step needs at least one example (nothing was updated).");
            if (targets.shape[1] == 0)
                throw new InvalidBatchException(field + "Targets", $"{field}Targets has shape {Shape(targets)}: a response needs at least one position.");
            if (expect.Features is { } features && !inputsChecked)
            {
                if (inputs.dim() != 2 || inputs.shape[1] != features)
                    throw new InvalidBatchException(field + "Inputs",
                        $"{field}Inputs has shape {Shape(inputs)}; the student '{expect.Student}' reads features [B, {features}] (InputFeatures = {features}).");
                if (expect.FeatureDtype is { } dtype && inputs.dtype != dtype)
                    throw new InvalidBatchException(field + "Inputs",
                        $"{field}Inputs has dtype {inputs.dtype}; the student '{expect.Student}' computes in {dtype}: convert the features (to_type(ScalarType.{dtype})).");
            }
            if (expect.Features is not null && targets.shape[1] != 1)
                throw new InvalidBatchException(field + "Targets",
                    $"{field}Targets has shape {Shape(targets)}; a classifier scores one class per example, [B, 1] (see ResponseBatch.ForClassification).");
            if (expect.Tokens)
            {
                if (!inputsChecked && (inputs.dim() != 2 || inputs.dtype != ScalarType.Int64))
                    throw new InvalidBatchException(field + "Inputs",
                        $"{field}Inputs is {inputs.dtype} {Shape(inputs)}; the language model '{expect.Student}' reads int64 token ids [B, L].");
                if (!inputsChecked && inputs.shape[1] > expect.MaxLength)
                    throw new InvalidBatchException(field + "Inputs",
                        $"{field}Inputs has {inputs.shape[1]} positions; the language model '{expect.Student}' reads at most {expect.MaxLength} (MaxSequenceLength).");
                if (targets.shape[1] != inputs.shape[1])
                    throw new InvalidBatchException(field + "Targets",
                        $"{field}Targets has shape {Shape(targets)}; a language model predicts one token per input position, [{inputs.shape[0]}, {inputs.shape[1]}] (see ResponseBatch.ForCausalLm).");
            }
            return new ResponseProbe(expect, batch, field, scalars, perRow, inputsChecked);
        }

        /// <summary>
        /// An upper bound of the targets at scored positions (the largest target anywhere; valid after
        /// <see cref="Scalars.Fetch"/>).
        /// </summary>
        public long MaxScoredTarget(Scalars s) => (long)s[_targetMax];

        /// <summary>Throws at the first value out of range.</summary>
        public void Verify(Scalars s)
        {
            if (_inputMin >= 0 && (s[_inputMin] < 0 || s[_inputMax] >= _expect.Vocabulary))
            {
                var inputs = _batch.Inputs;
                var at = FirstIndex(inputs.lt(0).logical_or(inputs >= _expect.Vocabulary!.Value));
                throw new InvalidBatchException(_field + "Inputs",
                    $"{_field}Inputs[{at[0]}, {at[1]}] = {inputs[at[0], at[1]].item<long>()} is out of range: token ids must be in [0, {_expect.Vocabulary - 1}] " +
                    $"for the language model '{_expect.Student}' (VocabularySize = {_expect.Vocabulary}).");
            }
            if (!(s[_maskMin] >= 0 && s[_maskMax] <= 1)) // false for NaN
            {
                var mask = _batch.Mask;
                var at = FirstIndex(mask.ge(0).logical_and(mask.le(1)).logical_not());
                throw new InvalidBatchException(_field + "Mask",
                    $"{_field}Mask[{at[0]}, {at[1]}] = {Format(mask[at[0], at[1]].ToDouble())} is out of range: mask values must be in [0, 1] (1 = scored, 0 = left out).");
            }
            if (s[_targetMin] < 0 || _expect.Vocabulary is { } v && s[_targetMax] >= v)
                ScoredTargetsInRange();
            if (!(s[_maskMax] > 0))
                throw new InvalidBatchException(_field + "Mask",
                    $"{_field}Mask is 0 everywhere: no position of the {_batch.Count} examples is scored, so there is nothing to train on (nothing was updated).");
            if (_perRow && !(s[_rowMin] > 0))
            {
                var row = FirstIndex(_batch.Mask.amax(1).le(0))[0];
                throw new InvalidBatchException(_field + "Mask",
                    $"{_field}Mask row {row} is 0 everywhere: every response needs at least one scored position (its log-probability would otherwise be read as 0).");
            }
        }

        /// <summary>Throws at the first target out of range at a scored position (targets at masked positions may hold anything).</summary>
        private void ScoredTargetsInRange()
        {
            var targets = _batch.Targets;
            var outOfRange = targets.lt(0);
            if (_expect.Vocabulary is { } vocabulary) outOfRange = outOfRange.logical_or(targets >= vocabulary);
            var bad = outOfRange.logical_and(_batch.Mask != 0);
            if (!bad.any().item<bool>()) return;
            var at = FirstIndex(bad);
            long value = targets[at[0], at[1]].item<long>();
            string allowed = _expect.Vocabulary is { } n
                ? $"{_expect.IdKind} ids at scored positions must be in [0, {n - 1}] for the student '{_expect.Student}' ({_expect.VocabularyName} = {n})"
                : "ids at scored positions must be >= 0";
            throw new InvalidBatchException(_field + "Targets", value == IgnoreIndex
                ? $"{_field}Targets[{at[0]}, {at[1]}] = -100 at a scored position: -100 is the ignore index of PyTorch's cross_entropy and of TRL, " +
                  $"but Superalign leaves positions out with the mask, so set Mask[{at[0]}, {at[1]}] = 0 instead (targets at masked positions may hold any value); {allowed}."
                : $"{_field}Targets[{at[0]}, {at[1]}] = {value} is out of range: {allowed}.");
        }
    }

    /// <summary>The checks of soft targets: shape on the host, values (finite, ≥ 0) through <see cref="Scalars"/>.</summary>
    private sealed class SoftProbe
    {
        private readonly Tensor _soft;
        private readonly string _field;
        private readonly int _min, _max;

        private SoftProbe(Tensor soft, string field, Scalars scalars)
        {
            (_soft, _field) = (soft, field);
            (_min, _max) = scalars.AddMinMax(soft);
        }

        public static SoftProbe Start(Expectation expect, Tensor soft, string field, Scalars scalars)
        {
            if (!soft.is_floating_point())
                throw new InvalidBatchException(field, $"{field} has dtype {soft.dtype}; soft targets are probabilities, a floating-point dtype.");
            long width = soft.shape[^1];
            if (expect.Vocabulary is { } v && width != v)
                throw new InvalidBatchException(field,
                    $"{field} has shape {Shape(soft)}: {width} entries per row, but the student '{expect.Student}' has {v} ({expect.VocabularyName}).");
            if (width == 0)
                throw new InvalidBatchException(field, $"{field} has shape {Shape(soft)}: rows with no entries.");
            return new SoftProbe(soft, field, scalars);
        }

        public void Verify(Scalars s)
        {
            if (s[_min] >= 0 && double.IsFinite(s[_max])) return; // false for NaN
            var at = FirstIndex(_soft.isfinite().logical_and(_soft.ge(0)).logical_not());
            double value = _soft.index(at.Select(i => TensorIndex.Single(i)).ToArray()).ToDouble();
            throw new InvalidBatchException(_field,
                $"{_field}[{string.Join(", ", at)}] = {Format(value)} is out of range: soft targets must be finite and >= 0 (probabilities, or probabilities times an example weight).");
        }
    }

    /// <summary>A check that a tensor holds finite values only.</summary>
    private sealed class FiniteProbe
    {
        private readonly Tensor _values;
        private readonly string _field;
        private readonly int _min, _max;

        public FiniteProbe(Tensor values, string field, Scalars scalars)
        {
            (_values, _field) = (values, field);
            (_min, _max) = scalars.AddMinMax(values);
        }

        public void Verify(Scalars s)
        {
            if (double.IsFinite(s[_min]) && double.IsFinite(s[_max])) return;
            var at = FirstIndex(_values.isfinite().logical_not());
            throw new InvalidBatchException(_field,
                $"{_field}[{at[0]}] = {Format(_values[at[0]].ToDouble())} is not finite: cached reference log-probabilities must be finite numbers.");
        }
    }

    private static long[] FirstIndex(Tensor bad)
    {
        using var first = bad.nonzero()[0].cpu();
        return first.data<long>().ToArray();
    }

    private static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
