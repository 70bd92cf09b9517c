package batch_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/server/batch"
)

var _ = Describe("Committer", func() {
	double := func(_ context.Context, items []int) ([]int, error) {
		out := make([]int, len(items))
		for i, v := range items {
			out[i] = v * 2
		}
		return out, nil
	}

	It("gives every caller its own result, and batches concurrent callers", func() {
		var flushes, largest atomic.Int64
		c, err := batch.New(batch.Config{MaxItems: 64, Observe: func(n int, _ error) {
			flushes.Add(1)
			for {
				l := largest.Load()
				if int64(n) <= l || largest.CompareAndSwap(l, int64(n)) {
					break
				}
			}
		}}, double)
		Expect(err).NotTo(HaveOccurred())
		var wg sync.WaitGroup
		const callers = 1000
		for i := range callers {
			wg.Go(func() {
				defer GinkgoRecover()
				r, err := c.Do(context.Background(), i)
				Expect(err).NotTo(HaveOccurred())
				Expect(r).To(Equal(2 * i))
			})
		}
		wg.Wait()
		c.Close()
		Expect(flushes.Load()).To(BeNumerically("<", callers))
		Expect(largest.Load()).To(BeNumerically("<=", 64))
		Expect(largest.Load()).To(BeNumerically(">", 1))
	})

	It("fails every item of a failed flush, and the next batch still works", func() {
		var fail atomic.Bool
		fail.Store(true)
		c, err := batch.New(batch.Config{}, func(ctx context.Context, items []int) ([]int, error) {
			if fail.Load() {
				return nil, errors.New("store down")
			}
			return double(ctx, items)
		})
		Expect(err).NotTo(HaveOccurred())
		defer c.Close()
		_, err = c.Do(context.Background(), 1)
		Expect(err).To(MatchError("store down"))
		fail.Store(false)
		Expect(c.Do(context.Background(), 2)).To(Equal(4))
	})

	It("turns a short result or a panic into an error for the batch", func() {
		c, err := batch.New(batch.Config{}, func(_ context.Context, items []int) ([]int, error) {
			if items[0] < 0 {
				panic("boom")
			}
			return nil, nil
		})
		Expect(err).NotTo(HaveOccurred())
		defer c.Close()
		_, err = c.Do(context.Background(), 1)
		Expect(err).To(MatchError(ContainSubstring("0 results for 1 items")))
		_, err = c.Do(context.Background(), -1)
		Expect(err).To(MatchError(ContainSubstring("panicked")))
	})

	It("flushes what was handed in on Close, and refuses items after it", func() {
		var written atomic.Int64
		c, err := batch.New(batch.Config{}, func(_ context.Context, items []int) ([]int, error) {
			written.Add(int64(len(items)))
			return items, nil
		})
		Expect(err).NotTo(HaveOccurred())
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() { _, _ = c.Do(context.Background(), i) })
		}
		wg.Wait()
		c.Close()
		Expect(written.Load()).To(BeEquivalentTo(100))
		_, err = c.Do(context.Background(), 1)
		Expect(err).To(MatchError(batch.ErrClosed))
	})

	It("returns when the caller's context ends", func() {
		block := make(chan struct{})
		c, err := batch.New(batch.Config{}, func(_ context.Context, items []int) ([]int, error) {
			<-block
			return items, nil
		})
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = c.Do(ctx, 1)
		Expect(err).To(MatchError(context.Canceled))
		close(block)
		c.Close()
	})

	It("refuses negative settings and a missing flush function", func() {
		_, err := batch.New(batch.Config{MaxItems: -1}, double)
		Expect(err).To(HaveOccurred())
		_, err = batch.New[int, int](batch.Config{}, nil)
		Expect(err).To(HaveOccurred())
	})
})
