"""%ensemble / nbml.ensemble and %compare: members and ensemble on the same folds."""
import pytest
from IPython.core.error import UsageError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import nbml


@pytest.fixture
def iris_members(iris_named):
    nbml.split(iris_named, target="species", test=0.2, val=0, seed=42)
    return [nbml.train(LogisticRegression(), cv=5), nbml.train(SVC(kernel="linear"), cv=5),
            nbml.train(DecisionTreeClassifier(max_depth=3), cv=5)]


def test_hard_vote_scores_members_and_ensemble_on_the_same_folds(iris_members):
    vote = nbml.ensemble(iris_members, method="hard")
    assert isinstance(vote, nbml.TrainResult) and vote.name.startswith("Hard ensemble")
    assert list(vote.comparison.index) == ["LogisticRegression", "SVC", "DecisionTreeClassifier", "hard ensemble"]
    # the member rows are the members' own CV on the same folds
    for member, row in zip(iris_members, vote.comparison.index):
        assert vote.comparison.loc[row, "accuracy"].startswith(f"{member.metrics['accuracy']:.4f}")
    # the ensemble row equals scikit-learn's own CV of the same VotingClassifier
    s = vote.split
    folds = StratifiedKFold(5, shuffle=True, random_state=42)
    want = cross_val_score(vote._pipeline, s.X_trainval, s.y_trainval, cv=folds).mean()
    assert vote.metrics["accuracy"] == pytest.approx(want)
    assert "best member" in vote.note and "Members vs ensemble" in vote._repr_html_()
    ev = nbml.evaluate(vote, on="test")
    assert 0.8 < ev.metrics["accuracy"] <= 1


def test_soft_vote_with_weights_stacking_bagging_boosting(iris_members):
    lr, _, tree = iris_members
    soft = nbml.ensemble([lr, tree], method="soft", weights=[2, 1])
    assert soft.estimator.weights == [2, 1] and "roc_auc" in soft.metrics
    stack = nbml.ensemble(iris_members, method="stacking")
    assert type(stack.estimator).__name__ == "StackingClassifier"
    bag = nbml.ensemble([tree], method="bagging", n_estimators=5)
    assert type(bag.estimator).__name__ == "BaggingClassifier" and len(bag.comparison) == 2
    boost = nbml.ensemble([tree], method="boosting")
    assert type(boost.estimator).__name__ == "AdaBoostClassifier"
    assert type(nbml.ensemble([], method="boosting").estimator).__name__ == "GradientBoostingClassifier"


def test_estimator_members_and_regression(diabetes):
    nbml.split(diabetes, target="target")
    avg = nbml.ensemble([Ridge(), DecisionTreeRegressor(max_depth=3)], method="soft", cv=3)
    assert type(avg.estimator).__name__ == "VotingRegressor" and "r2" in avg.metrics


def test_ensemble_bad_input(iris_members, diabetes):
    lr, svc, _ = iris_members
    with pytest.raises(ValueError, match="weights has 3 value"):
        nbml.ensemble([lr, svc], method="hard", weights=[1, 2, 3])
    with pytest.raises(ValueError, match="SVC gives none.*method='hard'"):
        nbml.ensemble([lr, svc], method="soft")
    with pytest.raises(ValueError, match="method='vote'"):
        nbml.ensemble([lr, svc], method="vote")
    other = nbml.train(LogisticRegression(), data=lr.split.X_train.assign(species=lr.split.y_train),
                       target="species")
    with pytest.raises(ValueError, match="different"):
        nbml.ensemble([lr, other], method="hard")


def test_ensemble_and_compare_magics(ip, run, iris_named):
    ip.user_ns["iris"] = iris_named
    run("%split iris --target species --test 0.2 --val 0 --seed 42")
    run("from sklearn.linear_model import LogisticRegression\nfrom sklearn.svm import SVC\n"
        "from sklearn.tree import DecisionTreeClassifier")
    run("%train LogisticRegression() --cv 5 -o lr")
    run("%train DecisionTreeClassifier(max_depth=3) --cv 5 -o tree")
    cell = run("%%ensemble --method hard -o vote\nlr\ntree\nSVC(kernel='linear')")
    assert cell.error is None, cell.err
    assert len(ip.user_ns["vote"].comparison) == 4 and "hard ensemble" in cell.out
    cell = run("%ensemble lr tree --method soft --weights 1,3 -o soft")
    assert cell.error is None and ip.user_ns["soft"].estimator.weights == [1.0, 3.0]
    cell = run("%compare lr tree vote")
    assert cell.error is None and list(cell.value.columns[:2]) == ["accuracy", "precision"]
    cell = run("%compare --models lr,knn,tree --cv 3")
    assert cell.error is None and len(cell.value) == 3 and set(cell.value.attrs["results"]) == {"lr", "knn", "tree"}
    for source, phrase in [("%ensemble lr tree --weights 1", "weights has 1"),
                           ("%ensemble lr tree --weights a,b", "comma-separated"),
                           ("%ensemble lr nosuch", "'nosuch' is not defined"),
                           ("%compare --models banana", "not a standard classification model")]:
        cell = run(source)
        assert isinstance(cell.error, UsageError) and phrase in str(cell.error), (source, cell.error)


def test_boosting_without_members_takes_the_splits_preprocessing(cancer):
    """Member-less gradient boosting gets the split's pipeline, so string columns work."""
    frame = cancer.copy()
    frame["size"] = (frame["mean radius"] > 14).map({True: "big", False: "small"})
    split = nbml.split(frame, target="target", seed=0, activate=False)
    result = nbml.ensemble([], method="boosting", cv=3, split=split)
    assert result.metrics["accuracy"] > 0.9 and result.pipeline.steps[0][0] == "preprocess"
