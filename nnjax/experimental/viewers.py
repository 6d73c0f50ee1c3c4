"""Graph viewer (``nnabla.experimental.viewers``): draw a graph with Graphviz.

:class:`SimpleGraph` turns the graph ending at a variable into a
``graphviz.Digraph``: a box per function, a circle per variable, edges in
the data-flow direction. Parameters are labelled with their names (relative
to the scope of the function using them) and functions with that scope.

Rendering needs the Graphviz ``dot`` program (Debian: ``apt-get install
graphviz``; the Python package is ``pip install graphviz``). Without it,
``save`` writes the DOT source (a ``.dot`` text file that any Graphviz
install can render later) and warns. ``view`` shows the graph inline in a
Jupyter notebook, opens a viewer when there is a display, and otherwise
(headless) renders it to a file and returns the file's path.
"""
import json
import os
import posixpath
import sys
import warnings
from collections import defaultdict

from .. import parameter as _parameter

__all__ = ["SimpleGraph"]


def _quote(text):
    text = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _attrs(attrs):
    items = [f"{k}={_quote(v)}" for k, v in attrs.items() if v is not None]
    return f" [{' '.join(items)}]" if items else ""


class _DotDigraph(object):
    """A stand-in for ``graphviz.Digraph`` (used when the ``graphviz`` Python
    package is missing): records nodes and edges and writes DOT source."""

    def __init__(self, format="png"):
        self.format = format
        self.body = []

    def attr(self, kw=None, **attrs):
        self.body.append(f"\t{kw or 'graph'}{_attrs(attrs)}")

    def node(self, name, label=None, **attrs):
        self.body.append(f"\t{_quote(name)}{_attrs(dict(label=label, **attrs))}")

    def edge(self, tail_name, head_name, **attrs):
        self.body.append(f"\t{_quote(tail_name)} -> {_quote(head_name)}{_attrs(attrs)}")

    @property
    def source(self):
        return "digraph {\n" + "\n".join(self.body) + "\n}\n"

    def save(self, filename):
        with open(filename, "w") as f:
            f.write(self.source)
        return filename


def _digraph(format):
    try:
        from graphviz import Digraph
    except ImportError:
        return _DotDigraph(format=format)
    return Digraph(format=format)


def _dot_path(fpath):
    return fpath if os.path.splitext(fpath)[1] in (".dot", ".gv") else fpath + ".dot"


def _write_source(graph, fpath, reason):
    path = _dot_path(fpath)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w") as f:
        f.write(graph.source)
    warnings.warn(f"SimpleGraph: {reason}; wrote the DOT source to {path} instead "
                  f"(render it with `dot -T{getattr(graph, 'format', 'png')} {path}`)",
                  RuntimeWarning, stacklevel=3)
    return path


def _in_notebook():
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and hasattr(shell, "kernel")


def _has_display():
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


_FUNCTION_COLORS = (
    (("Conv",), "blue"),
    (("Affine",), "red"),
    (("Norm",), "orange"),
    (("ReLU",), "green"),
    (("Pool",), "lightblue2"),
    (("Add", "Sub", "Mul", "Div"), "purple"),
)


class _Drawer(object):
    """The ``visit`` callback adding one function and its variables to a graph."""

    def __init__(self, graph, verbose, fname_color_map, vname_color_map, fun2scope, param_label):
        self.graph = graph
        self.verbose = verbose
        self.fname_color_map = fname_color_map
        self.vname_color_map = vname_color_map
        self.fun2scope = fun2scope
        self.param_label = param_label
        self.count = defaultdict(int)
        self.drawn = {}

    def function_color(self, type_name):
        if self.fname_color_map is not None:
            return self.fname_color_map.get(type_name, "lightgray")
        for keys, color in _FUNCTION_COLORS:
            if any(k in type_name for k in keys):
                return color
        return "gray"

    def variable_color(self, v):
        if v in self.param_label:
            return "pink"
        if self.vname_color_map is not None and v.name in self.vname_color_map:
            return self.vname_color_map[v.name]
        return "lightgray"

    def variable_label(self, v):
        if v in self.param_label:
            label = self.param_label[v]
        else:
            label = v.name if v.name else "h"
        if self.verbose:
            label += f"\n({v.shape}, need_grad={v.need_grad})"
        return label

    def function_label(self, f):
        label = f.name
        if f in self.fun2scope:
            label += "\n" + self.fun2scope[f]
        if self.verbose:
            label += "\n" + json.dumps(f.info.args, default=str)
        return label

    def variable(self, v):
        name = self.drawn.get(id(v))
        if name is None:
            name = self.drawn[id(v)] = f"var-{len(self.drawn)}"
            fill = self.variable_color(v)
            self.graph.node(name, label=self.variable_label(v),
                            shape="ellipse" if self.verbose else "circle",
                            color="black" if v.need_grad else fill, fillcolor=fill)
        return name

    def __call__(self, f):
        self.count[f.name] += 1
        fname = f"{f.name}-{self.count[f.name]}"
        self.graph.node(fname, label=self.function_label(f),
                        shape="box" if self.verbose else "square",
                        color=self.function_color(f.info.type_name), fontcolor="white")
        for v in f.inputs:
            if v is not None:
                self.graph.edge(self.variable(v), fname)
        for v in f.outputs:
            self.graph.edge(fname, self.variable(v))


class SimpleGraph(object):
    """Draws a computation graph with Graphviz.

    Args:
        format (str): image format of saved / rendered files ('png', 'svg',
            'pdf', ...).
        verbose (bool): add variables' shapes and need_grad, and functions'
            args, to the labels.
        fname_color_map (dict): function type name -> Graphviz color, e.g.
            ``{"Convolution": "red", "Affine": "blue"}``; functions not in it
            are light gray. By default the color follows the function type.
        vname_color_map (dict): variable name (``Variable.name``) -> color;
            by default variables are light gray and parameters pink.

    Example::

        import nnabla.experimental.viewers as V
        graph = V.SimpleGraph(verbose=False)
        graph.view(pred)                       # inline in Jupyter, or a file when headless
        graph.save(pred, "graph", format="svg")  # graph (DOT source) + graph.svg
    """

    def __init__(self, format="png", verbose=False, fname_color_map=None, vname_color_map=None):
        self._format = format
        self._verbose = verbose
        self._fname_color_map = fname_color_map
        self._vname_color_map = vname_color_map

    def create_graphviz_digraph(self, vleaf, params=None, format=None):
        """A ``graphviz.Digraph`` of the graph ending at ``vleaf``.

        In Jupyter the returned object displays itself inline (as SVG).

        Args:
            vleaf (nnabla.Variable): the last variable; everything it depends
                on is drawn.
            params (dict): name -> parameter Variable used to label parameters
                (default: ``nn.get_parameters(grad_only=False)``).
            format (str): overrides the image format given to the constructor.

        Returns:
            graphviz.Digraph (a minimal object with ``source`` and ``save``
            when the ``graphviz`` package is not installed).
        """
        graph = _digraph(format or self._format)
        graph.attr("node", style="filled")
        if params is None:
            params = _parameter.get_parameters(grad_only=False)
        names = {}
        for name, var in params.items():
            names[var] = name

        fun2scope, param_label = {}, {}

        def find_scope(f):
            used = [names[v] for v in f.inputs if v is not None and v in names]
            if not used:
                return
            scope = posixpath.commonpath([posixpath.dirname(n) for n in used]) \
                if all(posixpath.dirname(n) for n in used) else ""
            if scope:
                fun2scope[f] = scope
            for v in f.inputs:
                if v is not None and v in names:
                    param_label[v] = names[v][len(scope) + 1:] if scope else names[v]

        vleaf.visit(find_scope)
        vleaf.visit(_Drawer(graph, self._verbose, self._fname_color_map,
                            self._vname_color_map, fun2scope, param_label))
        return graph

    def save(self, vleaf, fpath, cleanup=False, format=None):
        """Render the graph to ``fpath.<format>``.

        The DOT source is written to ``fpath`` and removed afterwards if
        ``cleanup``. Without the Graphviz ``dot`` program (or the ``graphviz``
        package), the DOT source is written to ``fpath`` (``.dot`` added
        unless it ends in ``.dot``/``.gv``) and a RuntimeWarning is issued.

        Args:
            vleaf (nnabla.Variable): the last variable of the graph.
            fpath (str): output path without the format extension.
            cleanup (bool): remove the DOT source after rendering.
            format (str): overrides the image format.

        Returns:
            str: the path of the file written.
        """
        graph = self.create_graphviz_digraph(vleaf, format=format)
        return self._render(graph, fpath, cleanup)

    @staticmethod
    def _render(graph, fpath, cleanup):
        if isinstance(graph, _DotDigraph):
            return _write_source(graph, fpath, "the graphviz Python package is not installed")
        from graphviz import ExecutableNotFound
        try:
            return graph.render(fpath, cleanup=cleanup)
        except ExecutableNotFound:
            return _write_source(graph, fpath, "the Graphviz 'dot' program was not found")

    def view(self, vleaf, fpath=None, cleanup=True, format=None, params=None):
        """Show the graph.

        In a Jupyter kernel the graph is displayed inline (SVG; the DOT
        source is printed if ``dot`` is missing). With a display, it is
        rendered and opened in the system viewer. Headless, it is rendered
        to ``fpath`` (default ``simple_graph``) plus the format's extension
        and the path is printed.

        Args:
            vleaf (nnabla.Variable): the last variable of the graph.
            fpath (str): file path (without extension) used when rendering.
            cleanup (bool): remove the DOT source after rendering.
            format (str): overrides the image format.
            params (dict): parameters used for labels (default: all registered).

        Returns:
            str or None: the rendered file's path (None when shown inline).
        """
        graph = self.create_graphviz_digraph(vleaf, params, format=format)
        if _in_notebook():
            from IPython.display import display
            if isinstance(graph, _DotDigraph):
                print(graph.source)
                return None
            try:
                from graphviz import ExecutableNotFound
                graph.pipe(format="svg")
            except ExecutableNotFound:
                print(graph.source)
                return None
            display(graph)
            return None
        fpath = fpath or "simple_graph"
        if _has_display() and not isinstance(graph, _DotDigraph):
            from graphviz import ExecutableNotFound
            try:
                return graph.view(fpath, cleanup=cleanup)
            except ExecutableNotFound:
                return _write_source(graph, fpath, "the Graphviz 'dot' program was not found")
            except RuntimeError:
                pass  # no viewer application: fall through to a file
        path = self._render(graph, fpath, cleanup)
        print(f"SimpleGraph: no display; the graph was written to {path}")
        return path
