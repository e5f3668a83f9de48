// Package policy is lakegate's embedded OPA authorization engine.
//
// Every request is turned into an Input document and evaluated against the
// Rego query data.lakegate.authz.decision, which must produce
// {"allow": bool, "reason": string}. Anything else denies. The default policy
// ships embedded; Config.Dir replaces it with the operator's own Rego files.
// Grants are kept in OPA's in-memory store as data.grants (a list) and
// data.grant_index (the same grants indexed for cheap lookups).
package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lakegate/lakegate/internal/transform"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/prometheus/client_golang/prometheus"
)

// DecisionQuery is the Rego query evaluated for every decision.
const DecisionQuery = "data.lakegate.authz.decision"

// DefaultPollInterval is used when Config.PollInterval is zero.
const DefaultPollInterval = time.Second

// Top-level store keys of the grants documents: data.grants (the list) and
// data.grant_index (the same grants indexed for lookups).
const (
	grantsKey     = "grants"
	grantIndexKey = "grant_index"
)

// Config configures an Engine.
type Config struct {
	// Dir is an optional directory of the operator's own .rego files
	// (searched recursively; *_test.rego files and entries starting with "."
	// are ignored). When set it replaces the default policy.
	Dir string
	// PollInterval is how often Run checks Dir for changes; default 1s.
	PollInterval time.Duration
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.PollInterval < 0 {
		return fmt.Errorf("policy config: poll_interval must not be negative, got %s", c.PollInterval)
	}
	if c.Dir != "" {
		info, err := os.Stat(c.Dir)
		if err != nil {
			return fmt.Errorf("policy config: dir: %w", err)
		}
		if !info.IsDir() {
			return fmt.Errorf("policy config: dir %s is not a directory", c.Dir)
		}
	}
	return nil
}

// Decision is the outcome of Decide.
type Decision struct {
	Allow    bool
	Reason   string
	Revision string // revision of the policy that made the decision
	// Transforms are the field transformations an allowed records.write must apply to every
	// record before it is stored (the decision's optional "transforms" array).
	Transforms []transform.Spec
}

// compiledPolicy is one policy revision with its prepared query.
type compiledPolicy struct {
	revision string
	query    rego.PreparedEvalQuery
	// cacheable is true when decisions are a pure function of principal, action,
	// resource and data; see cacheable.
	cacheable bool
}

// Engine evaluates authorization decisions. It is safe for concurrent use.
type Engine struct {
	cfg     Config
	logger  *slog.Logger
	metrics *engineMetrics
	store   storage.Store

	// reloadMu serialises policy compilation and activation.
	reloadMu sync.Mutex
	active   atomic.Pointer[compiledPolicy]
	// cache memoizes decisions of a cacheable policy; it is replaced (after the store or
	// the policy) whenever grants or the policy change.
	cache atomic.Pointer[decisionCache]
}

// New builds an Engine and activates the default policy, or the policy in
// cfg.Dir when set. A nil logger discards logs; a nil registerer leaves the
// metrics unregistered.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newEngineMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("policy engine: %w", err)
	}

	list, index := grantsData(nil)
	store := inmem.NewFromObjectWithOpts(map[string]any{
		grantsKey:     list,
		grantIndexKey: index,
	}, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))

	e := &Engine{
		cfg:     cfg,
		logger:  logger,
		metrics: m,
		store:   store,
	}
	e.cache.Store(newDecisionCache())
	files, err := e.readPolicy()
	if err != nil {
		return nil, fmt.Errorf("policy engine: %w", err)
	}
	if err := e.activate(context.Background(), files); err != nil {
		return nil, fmt.Errorf("policy engine: %w", err)
	}
	return e, nil
}

// Revision returns the revision of the active policy.
func (e *Engine) Revision() string {
	return e.active.Load().revision
}

// Decide evaluates in against the active policy. It denies by default: an
// unknown action, an unsupported input version, an undefined or malformed
// policy result all deny with a reason. Evaluation errors deny and are also
// returned. A zero Input.Version is treated as InputVersion, nil roles as no
// roles and a zero Context.Time as the current time.
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	start := time.Now()
	// The cache is loaded before the policy: a cache swapped in after a policy change
	// is only ever filled by decisions of the new policy.
	cache := e.cache.Load()
	pol := e.active.Load()
	var (
		d   Decision
		err error
		key string
		hit bool
	)
	if pol.cacheable {
		key = cacheKey(in)
		d, hit = cache.get(key)
	}
	if hit {
		e.metrics.cacheHits.Inc()
	} else {
		d, err = e.decide(ctx, pol, in, start)
		if pol.cacheable && err == nil {
			cache.put(key, d)
		}
	}
	e.metrics.duration.Observe(time.Since(start).Seconds())
	switch {
	case err != nil:
		e.metrics.evalError.Inc()
	case d.Allow:
		e.metrics.allow.Inc()
	default:
		e.metrics.deny.Inc()
	}
	if e.logger.Enabled(ctx, slog.LevelDebug) {
		e.logger.DebugContext(ctx, "policy decision",
			slog.String("action", string(in.Action)),
			slog.String("resource_kind", in.Resource.Kind),
			slog.String("resource_namespace", in.Resource.Namespace),
			slog.String("resource_name", in.Resource.Name),
			slog.String("request_id", in.Context.RequestID),
			slog.Bool("allow", d.Allow),
			slog.String("reason", d.Reason),
			slog.String("revision", d.Revision),
		)
	}
	return d, err
}

func (e *Engine) decide(ctx context.Context, pol *compiledPolicy, in Input, now time.Time) (Decision, error) {
	deny := func(reason string) Decision {
		return Decision{Allow: false, Reason: reason, Revision: pol.revision}
	}
	if !in.Action.Valid() {
		return deny(fmt.Sprintf("unknown action %q", in.Action)), nil
	}
	switch in.Version {
	case "":
		in.Version = InputVersion
	case InputVersion:
	default:
		return deny(fmt.Sprintf("unsupported input version %q", in.Version)), nil
	}
	if in.Principal.Roles == nil {
		in.Principal.Roles = []string{}
	}
	if in.Context.Time.IsZero() {
		in.Context.Time = now.UTC()
	}

	// OPA's own per-evaluation metrics are not used; the no-op
	// implementation saves allocating them on every decision.
	rs, err := pol.query.Eval(ctx, rego.EvalParsedInput(in.astValue()), rego.EvalMetrics(metrics.NoOp()))
	if err != nil {
		return deny("policy evaluation error"),
			fmt.Errorf("policy: evaluate %s for %s (revision %s): %w", DecisionQuery, in.Action, pol.revision, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return deny("policy decision undefined"), nil
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return deny("policy decision is not an object"), nil
	}
	allow, ok := obj["allow"].(bool)
	if !ok {
		return deny("policy decision has no boolean allow"), nil
	}
	reason, _ := obj["reason"].(string)
	if reason == "" {
		if allow {
			reason = "allowed by policy"
		} else {
			reason = "denied by policy"
		}
	}
	d := Decision{Allow: allow, Reason: reason, Revision: pol.revision}
	if raw, ok := obj["transforms"]; ok && allow {
		// A decision whose transformations cannot be understood is a denial: a value the
		// policy means to protect is never stored in clear.
		if d.Transforms, err = transformsOf(raw); err != nil {
			return deny("policy decision has invalid transforms: " + err.Error()), nil
		}
		if len(d.Transforms) == 0 {
			d.Transforms = nil
		}
	}
	return d, nil
}

// transformsOf reads the decision's "transforms": an array of {"field", "op", "value"?,
// "keep_last"?} objects.
func transformsOf(raw any) ([]transform.Spec, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var specs []transform.Spec
	if err := dec.Decode(&specs); err != nil {
		return nil, err
	}
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	return specs, nil
}

// SetGrants replaces data.grants (and data.grant_index) atomically
// in a single store transaction. All grants are validated first and ids must
// be unique; on error the previous grants stay in place. Decisions already
// in flight see either the old or the new grants, never a mix.
func (e *Engine) SetGrants(ctx context.Context, grants []Grant) error {
	if err := validateGrants(grants); err != nil {
		return fmt.Errorf("policy: set grants: %w", err)
	}
	list, index := grantsData(grants)
	err := storage.Txn(ctx, e.store, storage.WriteParams, func(txn storage.Transaction) error {
		if err := e.store.Write(ctx, txn, storage.AddOp, storage.Path{grantsKey}, list); err != nil {
			return fmt.Errorf("write data.%s: %w", grantsKey, err)
		}
		if err := e.store.Write(ctx, txn, storage.AddOp, storage.Path{grantIndexKey}, index); err != nil {
			return fmt.Errorf("write data.%s: %w", grantIndexKey, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("policy: set grants: %w", err)
	}
	e.cache.Store(newDecisionCache()) // after the store: see Decide
	e.logger.InfoContext(ctx, "policy grants replaced", slog.Int("grants", len(grants)))
	return nil
}

// Reload re-reads the policy (Config.Dir, or the embedded default when Dir
// is empty) and activates it. If it cannot be read, does not compile, or
// lacks a single-value data.lakegate.authz.decision rule, Reload returns an
// error and the previous policy stays active.
func (e *Engine) Reload(ctx context.Context) error {
	files, err := e.readPolicy()
	if err != nil {
		e.refused(ctx, err)
		return fmt.Errorf("policy: reload refused, keeping revision %s: %w", e.Revision(), err)
	}
	return e.reload(ctx, files)
}

// Run polls Config.Dir every PollInterval and reloads the policy when its
// content digest changes. A change is applied once it has been stable for one
// poll interval, so that a file caught half-written is not reported. Refused
// reloads are logged (once per distinct content) and the previous policy
// stays active. Run returns nil when ctx is done. With no Dir it just waits
// for ctx.
func (e *Engine) Run(ctx context.Context) error {
	if e.cfg.Dir == "" {
		<-ctx.Done()
		return nil
	}
	ticker := time.NewTicker(e.cfg.PollInterval)
	defer ticker.Stop()

	// A "state" is the digest of the directory content, or the read error.
	// pending is the state seen on the previous poll; applied is the last
	// state acted upon (activated or refused).
	applied := e.Revision()
	pending := applied
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		files, err := readPolicyDir(e.cfg.Dir)
		state := "error: " + fmt.Sprint(err)
		if err == nil {
			state = revisionOf(files)
		}
		if state != pending {
			pending = state
			continue
		}
		if state == applied {
			continue
		}
		applied = state
		if err != nil {
			e.refused(ctx, err)
			continue
		}
		if state == e.Revision() {
			continue
		}
		// reload logs and counts the outcome itself.
		_ = e.reload(ctx, files)
	}
}

// reload activates files and records the outcome.
func (e *Engine) reload(ctx context.Context, files []policyFile) error {
	if err := e.activate(ctx, files); err != nil {
		e.refused(ctx, err)
		return fmt.Errorf("policy: reload refused, keeping revision %s: %w", e.Revision(), err)
	}
	e.metrics.reloadsOK.Inc()
	return nil
}

func (e *Engine) refused(ctx context.Context, err error) {
	e.metrics.reloadsRefused.Inc()
	e.logger.WarnContext(ctx, "policy reload refused, keeping active policy",
		slog.String("revision", e.Revision()),
		slog.String("dir", e.cfg.Dir),
		slog.Any("error", err),
	)
}

func (e *Engine) readPolicy() ([]policyFile, error) {
	if e.cfg.Dir == "" {
		return defaultPolicyFiles()
	}
	return readPolicyDir(e.cfg.Dir)
}

// activate compiles files, prepares the decision query and swaps it in.
func (e *Engine) activate(ctx context.Context, files []policyFile) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()

	revision := revisionOf(files)
	pol, err := e.compile(ctx, files, revision)
	if err != nil {
		return fmt.Errorf("policy revision %s: %w", revision, err)
	}
	previous := e.active.Swap(pol)
	e.cache.Store(newDecisionCache()) // after the policy: see Decide

	source := e.cfg.Dir
	if source == "" {
		source = "embedded default"
	}
	attrs := []any{
		slog.String("revision", revision),
		slog.Bool("decision_cache", pol.cacheable),
		slog.String("source", source),
		slog.Int("files", len(files)),
	}
	if previous != nil {
		attrs = append(attrs, slog.String("previous_revision", previous.revision))
	}
	e.logger.InfoContext(ctx, "policy activated", attrs...)
	return nil
}

func (e *Engine) compile(ctx context.Context, files []policyFile, revision string) (*compiledPolicy, error) {
	modules := make(map[string]*ast.Module, len(files))
	for _, f := range files {
		mod, err := ast.ParseModuleWithOpts(f.name, string(f.content), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("parse: %w", err)
		}
		if mod == nil {
			return nil, fmt.Errorf("parse %s: file is empty", f.name)
		}
		modules[f.name] = mod
	}

	compiler := ast.NewCompiler()
	compiler.Compile(modules)
	if compiler.Failed() {
		return nil, fmt.Errorf("compile: %w", compiler.Errors)
	}
	if err := checkDecisionRule(compiler); err != nil {
		return nil, err
	}

	query, err := rego.New(
		rego.Query(DecisionQuery),
		rego.Compiler(compiler),
		rego.Store(e.store),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", DecisionQuery, err)
	}
	return &compiledPolicy{revision: revision, query: query, cacheable: cacheable(compiler)}, nil
}

// checkDecisionRule requires a single-value, argument-free
// data.lakegate.authz.decision rule.
func checkDecisionRule(compiler *ast.Compiler) error {
	rules := compiler.GetRulesExact(ast.MustParseRef(DecisionQuery))
	if len(rules) == 0 {
		return fmt.Errorf("no %s rule", DecisionQuery)
	}
	for _, r := range rules {
		if len(r.Head.Args) > 0 {
			return fmt.Errorf("%s at %s is a function, want a rule producing {\"allow\": bool, \"reason\": string}", DecisionQuery, r.Location)
		}
		if r.Head.RuleKind() != ast.SingleValue {
			return fmt.Errorf("%s at %s is a multi-value rule, want a rule producing {\"allow\": bool, \"reason\": string}", DecisionQuery, r.Location)
		}
	}
	return nil
}
