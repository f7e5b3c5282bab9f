// The one adapter between the core's ProgressFn (return false to cancel, which
// throws mwb::Cancelled) and QtConcurrent/QPromise/QFutureWatcher, and the only
// place where exceptions from the libraries are caught in the GUI.
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <QFutureWatcher>
#include <QString>
#include <QtConcurrent/QtConcurrentRun>

#include "tensor/errors.h"
#include "tensor/progress.h"

namespace mwb::gui {

// A finished job: either a value or one sentence saying what went wrong.
template <class T>
struct JobOutcome {
    std::optional<T> value;
    QString error;
};

// Runs work(progress) on the global thread pool. Progress maps to 0..1000; the
// future is cancelled (no result) when the work throws Cancelled after a cancel.
// `work` must not touch widgets; give it its inputs by value or shared_ptr<const>.
template <class Fn>
auto runJob(Fn work) {
    using T = std::invoke_result_t<Fn&, const ProgressFn&>;
    return QtConcurrent::run([work = std::move(work)](QPromise<JobOutcome<T>>& promise) mutable {
        promise.setProgressRange(0, 1000);
        const ProgressFn progress = [&promise](const Progress& p) {
            const long value = p.total > 0 ? 1000 * std::min(p.done, p.total) / p.total : 0;
            promise.setProgressValueAndText(static_cast<int>(value),
                                            QString::fromUtf8(p.stage.data(), static_cast<int>(p.stage.size())));
            return !promise.isCanceled();
        };
        try {
            promise.addResult(JobOutcome<T>{work(progress), {}});
        } catch (const Cancelled&) {
            // no result: the watcher sees a cancelled future
        } catch (const std::bad_alloc&) {
            promise.addResult(JobOutcome<T>{std::nullopt, QStringLiteral("Out of memory.")});
        } catch (const std::exception& e) {
            promise.addResult(JobOutcome<T>{std::nullopt, QString::fromUtf8(e.what())});
        }
    });
}

// One kind of job a panel runs, at most one at a time: owns the watcher (parented
// to `owner`), cancels and waits on destruction so no worker outlives its panel.
template <class T>
class Job {
public:
    explicit Job(QObject* owner) : m_watcher(new QFutureWatcher<JobOutcome<T>>(owner)) {}
    ~Job() { cancelAndWait(); }
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;

    QFutureWatcher<JobOutcome<T>>* watcher() const { return m_watcher; }
    bool isRunning() const { return m_watcher->isRunning(); }

    // Cancels a running job of this kind (without waiting) and starts `work`.
    template <class Fn>
    void start(Fn work) {
        if (isRunning()) m_watcher->cancel();
        m_watcher->setFuture(runJob(std::move(work)));
    }

    void cancelAndWait() {
        m_watcher->cancel();
        m_watcher->waitForFinished();
    }

    // After `finished`: the outcome, or nullopt when the job was cancelled.
    std::optional<JobOutcome<T>> outcome() const {
        const QFuture<JobOutcome<T>> f = m_watcher->future();
        if (f.isCanceled() || f.resultCount() == 0) return std::nullopt;
        return f.result();
    }

private:
    QFutureWatcher<JobOutcome<T>>* m_watcher;
};

}  // namespace mwb::gui
