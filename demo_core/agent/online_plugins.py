"""Plugins that need the internet: lagent's ArxivSearch, with a clear message offline.

lagent 0.2.4's ``ArxivSearch`` calls ``arxiv.Search(...).results()``, which the current
``arxiv`` package (2.x) no longer has (every call fails with "'Search' object has no
attribute 'results'"), and it iterated the results -- where the request is made -- outside
its ``try``. This subclass keeps lagent's tool (name, description, output format) and does
the search with ``arxiv.Client().results(...)``, without the client's 3-second retries, and
turns any network failure into one sentence the model and the user can act on.
"""

from __future__ import annotations

from collections.abc import Callable

from lagent.actions.arxiv_search import ArxivSearch
from lagent.actions.base_action import BaseAction, tool_api
from lagent.schema import ActionReturn, ActionStatusCode

from demo_core.i18n import N_

OFFLINE_MESSAGE = (
    "ArxivSearch needs the internet and arxiv.org could not be reached from this machine "
    "({error}). Answer without it, or tell the user the search is unavailable offline."
)


class CheckedArxivSearch(ArxivSearch):
    """Search information from Arxiv.org. Useful for when you need to answer questions
    about Physics, Mathematics, Computer Science, Quantitative Biology, Quantitative
    Finance, Statistics, Electrical Engineering, and Economics from scientific articles on
    arxiv.org.
    """

    @tool_api(explode_return=True)
    def get_arxiv_article_information(self, query: str) -> dict:
        """Run Arxiv search and get the article meta information.

        Args:
            query (:class:`str`): the content of search query

        Returns:
            :class:`dict`: article information
                * content (str): a list of 3 arxiv search papers
        """
        import arxiv

        client = arxiv.Client(page_size=self.top_k_results, delay_seconds=0.0, num_retries=0)
        search = arxiv.Search(query[: self.max_query_len], max_results=self.top_k_results)
        try:
            results = list(client.results(search))
        except Exception as exc:  # offline, DNS, HTTP errors: the request runs here
            return ActionReturn(
                errmsg=OFFLINE_MESSAGE.format(error=f"{type(exc).__name__}: {exc}"[:200]),
                state=ActionStatusCode.HTTP_ERROR,
            )
        docs = [
            f"Published: {r.updated.date()}\nTitle: {r.title}\n"
            f"Authors: {', '.join(a.name for a in r.authors)}\n"
            f"Summary: {r.summary[: self.doc_content_chars_max]}"
            for r in results
        ]
        return {"content": "\n\n".join(docs) if docs else "No good Arxiv Result was found"}


def arxiv_search() -> BaseAction:
    action = CheckedArxivSearch()
    action._description["name"] = action._name = "ArxivSearch"  # lagent's name for it
    return action


ONLINE_PLUGINS: dict[str, Callable[[], BaseAction]] = {"ArxivSearch": arxiv_search}
ONLINE_HELP = N_("Needs internet access (arxiv.org); offline the agent is told it is unavailable.")
