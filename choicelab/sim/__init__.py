"""The world simulator (contract §1): regions, alternatives, annotator populations, data, I/O."""

from choicelab._lazy import lazy_exports

_EXPORTS = {
    # regions.py
    "Box": "regions",
    "Ball": "regions",
    # alternatives.py
    "Alternatives": "alternatives",
    "uniform_alternatives": "alternatives",
    "topic_clusters": "alternatives",
    "grid_alternatives": "alternatives",
    "add_exact_clones": "alternatives",
    "add_approximate_clones": "alternatives",
    # population.py
    "AnnotatorType": "population",
    "Population": "population",
    "linear_reward": "population",
    "ideal_point_reward": "population",
    "topic_table_reward": "population",
    "rbf_mixture_reward": "population",
    "explicit_reward": "population",
    "sample_coupled_comparisons": "population",
    # instance.py
    "Instance": "instance",
    # data.py
    "Comparisons": "data",
    "Rankings": "data",
    "win_counts": "data",
    "empirical_matrix": "data",
    "comparison_graph_strongly_connected": "data",
    # io.py
    "read_preflib": "io",
    "write_preflib": "io",
    "save_comparisons": "io",
    "load_comparisons": "io",
    "save_alternatives": "io",
    "load_alternatives": "io",
    "save_matrix": "io",
    "load_matrix": "io",
    "read_alternatives": "io",
    "read_comparisons": "io",
    "DataFileError": "io",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
